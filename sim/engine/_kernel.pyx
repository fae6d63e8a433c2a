# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False
"""The compiled kernel: the SimPy model of ``sim.engine.model``, run with its state in C arrays.

``sim.engine.model`` is the definition; this is its fast twin, held to identical traces by
the tests (``tests/oracle/test_engines_agree.py``). It applies the same rules in the same
order - the phases of an instant of ``sim.engine.phases``, keyed the same way - and differs
only in representation:

* a request, a batch header and a record are rows of doubles (request ids and sequence
  lengths are integers below 2**53, exact in float64; the trace stores them as doubles too);
* each queue, and the batches inside each replica with their requests, are ring buffers;
* the fleet's events are one binary heap ordered by (time, phase key, order scheduled);
  arrivals come from the request chunks and go before the fleet's events at their time;
* a batching decision is taken at once when nothing else can happen at its instant, which
  gives what deciding at the end of the instant gives; otherwise it is a heap entry in the
  decision phase;
* the SimPy processes added to a run stay in SimPy: before each arrival or fleet event the
  kernel steps SimPy (``env.step()``) while its next event (``env.peek()``) is due no later;
* records collect in a C buffer and are appended to the writer's arrays after each chunk,
  where the SimPy model appends them one by one: the writer sees the same numbers at each
  ``flush_if_full``.

Compiled with ``-ffp-contract=off``: a fused multiply-add would round differently from
Python.
"""

from libc.math cimport INFINITY, NAN, ceil, nextafter
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

from sim.engine.occupancy import Occupancy
from analysis.schema import DROPPED, FAILED, IN_FLIGHT, OK, TIMED_OUT

cdef enum Kind:
    DONE = 0  # a replica's batch is finished
    TIMER = 1  # an instance's max_wait deadline
    LEAVE = 2  # the oldest batch leaves a pipelined replica
    FREED = 3  # a pipelined replica can take its next batch
    WINDOW = 4  # the measured window starts
    DECIDE = 5  # an instance's batching decision, at the end of the instant
    RETRY = 6  # a client sends a request again (``inst``: its place among the retries)

cdef enum Pick:  # sim.policies.balancers.CompiledPick
    DRAWN = 0  # candidates drawn in advance (Balancer.draw)
    LEAST_OUTSTANDING = 1
    SHORTEST_QUEUE = 2
    ROUND_ROBIN = 3
    RANDOM = 4
    POWER_OF_TWO = 5
    WEIGHTED_ROUND_ROBIN = 6
    WEIGHTED_RANDOM = 7
    WEIGHTED_LEAST_OUTSTANDING = 8

cdef enum State:  # sim.engine.lifecycle.InstanceState
    STARTING = 0
    SERVING = 1
    DRAINING = 2
    DOWN = 3  # failed
    GONE = 4  # terminated

# phase keys: sim.engine.phases
cdef uint64_t FLEET_PHASE = 2
cdef uint64_t DECISION_PHASE = 3
cdef uint64_t RETRY_KEY = (1 << 56) | 1  # sim.engine.phases.RETRY
cdef int PHASE_SHIFT = 56
cdef int INSTANCE_SHIFT = 20

cdef struct Entry:
    double t
    uint64_t key
    uint64_t order
    int kind
    int inst
    int replica
    int epoch  # the instance's epoch when scheduled: a failure makes its events stale

cdef struct Row:  # a request (sim.engine.records.Request: id, first arrival s, seq len,
    # attempts, deadline s, queued s, hop, entered s) or a batch (start s, time inside s, size)
    double a
    double b
    double c
    double d
    double e
    double f
    double g
    double h

cdef struct Ring:  # FIFO of rows; capacity a power of two
    Row* rows
    Py_ssize_t head
    Py_ssize_t count
    Py_ssize_t cap


cdef int ring_grow(Ring* ring) except -1:
    cdef Py_ssize_t cap = ring.cap * 2 if ring.cap else 8
    cdef Row* rows = <Row*>malloc(cap * sizeof(Row))
    cdef Py_ssize_t i
    if rows == NULL:
        raise MemoryError()
    for i in range(ring.count):
        rows[i] = ring.rows[(ring.head + i) & (ring.cap - 1)]
    free(ring.rows)
    ring.rows = rows
    ring.head = 0
    ring.cap = cap
    return 0


cdef inline int ring_push(Ring* ring, double a, double b, double c) except -1:
    cdef Row* row
    if ring.count == ring.cap:
        ring_grow(ring)
    row = &ring.rows[(ring.head + ring.count) & (ring.cap - 1)]
    row.a = a
    row.b = b
    row.c = c
    row.d = 0.0
    row.e = 0.0
    row.f = 0.0
    ring.count += 1
    return 0


cdef inline int ring_put(Ring* ring, Row* source) except -1:
    """Append a copy of ``source`` (read before the ring may grow)."""
    cdef Row copy = source[0]
    if ring.count == ring.cap:
        ring_grow(ring)
    ring.rows[(ring.head + ring.count) & (ring.cap - 1)] = copy
    ring.count += 1
    return 0


cdef inline Row* ring_pop(Ring* ring) noexcept:
    """The oldest row (valid until the next push), removed."""
    cdef Row* row = &ring.rows[ring.head]
    ring.head = (ring.head + 1) & (ring.cap - 1)
    ring.count -= 1
    return row


cdef inline Row* ring_at(Ring* ring, Py_ssize_t i) noexcept:
    return &ring.rows[(ring.head + i) & (ring.cap - 1)]


cdef inline double delay_to(double now, double when) noexcept:
    """``sim.engine.phases.delay_to``: smallest ``d >= 0`` with ``now + d >= when``."""
    cdef double delay = when - now
    if delay <= 0:
        return 0.0
    while now + delay < when:
        delay = nextafter(delay, INFINITY)
    return delay


cdef inline bint before(Entry* a, Entry* b) noexcept:
    """Whether entry ``a`` comes first: by time, phase key, then order scheduled."""
    if a.t != b.t:
        return a.t < b.t
    if a.key != b.key:
        return a.key < b.key
    return a.order < b.order


cdef class Core:
    """A fleet's state in C arrays, and the loop over it.

    Instances are numbered as in ``sim.engine.fleet``; instances added during the run
    (``add_instance``) take the next numbers, so the per-instance arrays grow.

    Args:
        fleet: The run's ``sim.engine.fleet.Fleet``.
        env: The run's ``RunEnvironment`` when SimPy processes were added to it, else None.

    """

    cdef int n  # instances so far
    cdef int cap  # instances the per-instance arrays hold
    cdef int slots  # replica slots so far
    cdef int slot_cap
    cdef list pools
    cdef Py_ssize_t* pool_table_at  # per pool: offset of its service-by-size table, or -1
    cdef Py_ssize_t* pool_staged_at
    cdef int* pool_jitter  # per pool: index of its jitter draws, or -1
    cdef int* max_batch
    cdef double* max_wait
    cdef int64_t* queue_limit
    cdef Py_ssize_t* table_at  # offset of the instance's service-by-size table, or -1
    cdef Py_ssize_t* staged_at  # offset of its staged-by-size table (Pool.staged_s), or -1
    cdef double* table
    cdef list service_fn
    cdef list staged_fn  # Pool.staged_s per instance (None: no input staging)
    cdef char* staged_on
    cdef list pool_names
    # service-time jitter (sim.policies.jitter): per instance the index of its pool's draws
    # (-1: none); per draws, the current block of factors and the position in it
    cdef int* jitter_of
    cdef list jitter_draws
    cdef list jitter_blocks  # keeps each current block alive under its pointer
    cdef const double** jitter_ptr
    # host stage (sim.policies.host): per instance, seconds per batch, per request, per token
    cdef double* host_batch
    cdef double* host_request
    cdef double* host_token
    cdef char* host_on
    cdef Py_ssize_t* jitter_pos
    cdef Py_ssize_t* jitter_len
    cdef int* depth
    cdef int* replica_base  # first replica slot of each instance
    cdef int* replicas
    cdef char* free_replica
    cdef int* n_free
    cdef int64_t* outstanding
    cdef int64_t* arrived_at
    cdef int64_t* completed_at
    cdef int64_t* dropped_at
    cdef char* deciding
    cdef char* timer_armed
    # lifecycle (sim.engine.lifecycle): state, epoch, pool and model of each instance
    cdef char* state
    cdef int* epoch
    cdef int* pool_code
    cdef int* model_of
    # integrals for controllers: busy replica-seconds and outstanding request-seconds
    cdef double* busy_area
    cdef double* busy_last
    cdef double* out_area
    cdef double* out_last
    cdef Ring* queue  # per instance
    cdef Ring* inside  # per replica slot: the requests of its batches, oldest first
    cdef Ring* batches  # per replica slot: (start s, time inside s, size), oldest first
    cdef double* last_leave  # per replica slot: when its latest batch leaves (s)
    cdef Ring scratch  # a dropped request, on its way to its record
    cdef int models
    cdef int* hop_model  # per hop (sim.engine.routes.Routes): the model serving it
    cdef int* hop_next  # the hop after it, -1 if last
    cdef double* hop_seq  # (scale, min, max) per hop: its length from the stage before's
    cdef bint staged  # some route has several stages
    cdef int* pick
    cdef int* group_start
    # per model: the instances in service, ascending (a balancer's index i is active[m][i])
    cdef int** active
    cdef int* n_active
    cdef int* active_cap
    cdef int64_t* rr_next  # per model: round robin's next index
    # capacity weights (sim.policies.balancers, weighted policies): per instance its pool's
    # capacity_per_s (NaN: none) and its smooth-WRR current weight; per model the total of
    # the weights in service, summed in index order when the group changes
    cdef double* weight
    cdef double* current
    cdef double* w_total
    cdef list var_source  # per model: the balancer's ``variates`` (None: it draws none)
    cdef list var_blocks
    cdef const double** var_ptr
    cdef Py_ssize_t* var_pos
    cdef Py_ssize_t* var_len
    cdef public object gone  # called (instance, time s) when a draining instance ends
    cdef Ring held  # a lost batch's requests that are not sent again
    # clients (sim.engine.clients): deadlines and retries
    cdef double timeout_s  # NaN: none fixed
    cdef int max_attempts
    cdef double* caps  # per retry (attempt - 1): the longest backoff (s)
    cdef list draw_source  # [patience, jitter] block sources (None: not drawn)
    cdef bint drawn_patience
    cdef bint drawn_jitter
    cdef list draw_blocks
    cdef const double* draw_ptr[2]
    cdef Py_ssize_t draw_pos[2]
    cdef Py_ssize_t draw_len[2]
    # requests waiting to be sent again: their rows, models, order scheduled, free slots
    cdef Row* pend
    cdef uint64_t* pend_order
    cdef char* pend_live
    cdef int* pend_free
    cdef int pend_n  # slots used so far
    cdef int pend_cap
    cdef int pend_free_n
    # the fleet's events
    cdef Entry* heap
    cdef Py_ssize_t heap_n
    cdef Py_ssize_t heap_cap
    cdef uint64_t order
    # SimPy processes
    cdef object env
    cdef double next_user  # time of SimPy's next event (s); infinity if none
    # records since the last hand-over to the writer
    cdef double* numbers
    cdef Py_ssize_t numbers_n
    cdef Py_ssize_t numbers_cap
    cdef double* requests
    cdef Py_ssize_t requests_n
    cdef Py_ssize_t requests_cap
    # occupancy (sim.engine.occupancy.Occupancy)
    cdef int64_t in_system
    cdef int64_t arrived
    cdef double arrived_sum
    cdef double area
    cdef double last
    cdef double window
    cdef int64_t rid
    cdef double ok
    cdef double dropped
    cdef double in_flight
    cdef double failed

    def __cinit__(self, fleet, env=None, clients=None):
        cdef int j, m, code
        cdef Py_ssize_t cells = 0
        self.pools = list(fleet.pools)
        npools = len(self.pools)
        self.pool_table_at = <Py_ssize_t*>self._alloc((npools + 1) * sizeof(Py_ssize_t))
        self.pool_staged_at = <Py_ssize_t*>self._alloc((npools + 1) * sizeof(Py_ssize_t))
        self.pool_jitter = <int*>self._alloc((npools + 1) * sizeof(int))
        self.jitter_draws = []
        draws_index = {}
        for code, pool in enumerate(self.pools):
            if pool.service_by_size_s is None:
                self.pool_table_at[code] = -1
            else:
                self.pool_table_at[code] = cells
                cells += len(pool.service_by_size_s)
            if pool.staged_by_size_s is None:
                self.pool_staged_at[code] = -1
            else:
                self.pool_staged_at[code] = cells
                cells += len(pool.staged_by_size_s)
            if pool.jitter is None:
                self.pool_jitter[code] = -1
            else:
                if id(pool.jitter) not in draws_index:
                    draws_index[id(pool.jitter)] = len(self.jitter_draws)
                    self.jitter_draws.append(pool.jitter)
                self.pool_jitter[code] = draws_index[id(pool.jitter)]
        self.table = <double*>self._alloc((cells + 1) * sizeof(double))
        for code, pool in enumerate(self.pools):
            if self.pool_table_at[code] >= 0:
                for m, value in enumerate(pool.service_by_size_s):
                    self.table[self.pool_table_at[code] + m] = value
            if self.pool_staged_at[code] >= 0:
                for m, value in enumerate(pool.staged_by_size_s):
                    self.table[self.pool_staged_at[code] + m] = value
        m = len(self.jitter_draws)
        self.jitter_blocks = [None] * m
        self.jitter_ptr = <const double**>self._alloc((m + 1) * sizeof(double*))
        self.jitter_pos = <Py_ssize_t*>self._alloc((m + 1) * sizeof(Py_ssize_t))
        self.jitter_len = <Py_ssize_t*>self._alloc((m + 1) * sizeof(Py_ssize_t))
        self.service_fn = []
        self.staged_fn = []
        self.pool_names = []
        self.replica_base = <int*>self._alloc(sizeof(int))
        picks = [-1 if b is None else (-1 if b.compiled is None else int(b.compiled))
                 for b in fleet.balancers]
        self.models = len(picks)
        self.pick = <int*>self._alloc((self.models + 1) * sizeof(int))
        self.group_start = <int*>self._alloc((self.models + 1) * sizeof(int))
        self.active = <int**>self._alloc((self.models + 1) * sizeof(int*))
        self.n_active = <int*>self._alloc((self.models + 1) * sizeof(int))
        self.active_cap = <int*>self._alloc((self.models + 1) * sizeof(int))
        self.rr_next = <int64_t*>self._alloc((self.models + 1) * sizeof(int64_t))
        self.w_total = <double*>self._alloc((self.models + 1) * sizeof(double))
        self.var_ptr = <const double**>self._alloc((self.models + 1) * sizeof(double*))
        self.var_pos = <Py_ssize_t*>self._alloc((self.models + 1) * sizeof(Py_ssize_t))
        self.var_len = <Py_ssize_t*>self._alloc((self.models + 1) * sizeof(Py_ssize_t))
        self.var_source = [getattr(b, "variates", None) for b in fleet.balancers]
        self.var_blocks = [None] * self.models
        for m in range(self.models):
            self.pick[m] = picks[m]
        routes = fleet.routes
        hops = len(routes.model)
        self.hop_model = <int*>self._alloc((hops + 1) * sizeof(int))
        self.hop_next = <int*>self._alloc((hops + 1) * sizeof(int))
        self.hop_seq = <double*>self._alloc((3 * hops + 1) * sizeof(double))
        for m in range(hops):
            self.hop_model[m] = routes.model[m]
            self.hop_next[m] = routes.next[m]
            for code in range(3):
                self.hop_seq[3 * m + code] = routes.seq[m][code]
        self.staged = routes.staged
        for m in range(self.models + 1):
            self.group_start[m] = fleet.group_start[m]
        self.heap_cap = 16
        self.heap = <Entry*>self._alloc(self.heap_cap * sizeof(Entry))
        for j in range(fleet.size):
            self._setup(fleet.pool_code[j], SERVING)
        self.heap_n = 0
        self.order = 0
        self.env = env
        self.next_user = INFINITY
        self.numbers_cap = 8 * 4096
        self.numbers = <double*>self._alloc(self.numbers_cap * sizeof(double))
        self.requests_cap = 8 * 8192
        self.requests = <double*>self._alloc(self.requests_cap * sizeof(double))
        self.window = fleet.warmup_s
        self.last = self.window
        self.rid = 0
        self.ok = OK
        self.dropped = DROPPED
        self.in_flight = IN_FLIGHT
        self.failed = FAILED
        self.timeout_s = NAN
        self.max_attempts = 1
        self.caps = <double*>self._alloc(sizeof(double))
        self.draw_source = [None, None]
        self.draw_blocks = [None, None]
        if clients is not None:
            if clients.timeout_s is not None:
                self.timeout_s = clients.timeout_s
            self.max_attempts = clients.max_attempts
            self.caps = <double*>self._grown(self.caps, 0, (self.max_attempts + 1) * sizeof(double))
            for m, cap in enumerate(clients.backoff_caps_s):
                self.caps[m] = cap
            self.draw_source = [clients.patience, clients.jitter]
            self.drawn_patience = clients.patience is not None
            self.drawn_jitter = clients.jitter is not None
        if self.window > 0:
            self.schedule(self.window, FLEET_PHASE << PHASE_SHIFT, WINDOW, 0, 0)

    cdef void* _alloc(self, size_t size) except NULL:
        """Zeroed memory, freed with the object."""
        cdef char* p = <char*>malloc(size if size else 1)
        cdef size_t i
        if p == NULL:
            raise MemoryError()
        for i in range(size):
            p[i] = 0
        return p

    cdef void* _grown(self, void* old, size_t old_size, size_t size) except NULL:
        """``old``'s first ``old_size`` bytes in new zeroed memory of ``size`` bytes."""
        cdef void* p = self._alloc(size)
        if old != NULL:
            memcpy(p, old, old_size)
            free(old)
        return p

    cdef int _reserve(self, int instances, int slots) except -1:
        """Room for ``instances`` instances and ``slots`` replica slots in every array."""
        cdef int cap = self.cap, old = self.cap, slot_cap = self.slot_cap, old_slots
        if instances > cap:
            while cap < instances:
                cap = cap * 2 if cap else 8
            self.max_batch = <int*>self._grown(self.max_batch, old * sizeof(int), cap * sizeof(int))
            self.depth = <int*>self._grown(self.depth, old * sizeof(int), cap * sizeof(int))
            self.replicas = <int*>self._grown(self.replicas, old * sizeof(int), cap * sizeof(int))
            self.n_free = <int*>self._grown(self.n_free, old * sizeof(int), cap * sizeof(int))
            self.jitter_of = <int*>self._grown(self.jitter_of, old * sizeof(int), cap * sizeof(int))
            self.epoch = <int*>self._grown(self.epoch, old * sizeof(int), cap * sizeof(int))
            self.pool_code = <int*>self._grown(self.pool_code, old * sizeof(int), cap * sizeof(int))
            self.model_of = <int*>self._grown(self.model_of, old * sizeof(int), cap * sizeof(int))
            self.replica_base = <int*>self._grown(
                self.replica_base, (old + 1) * sizeof(int), (cap + 1) * sizeof(int))
            self.max_wait = <double*>self._grown(
                self.max_wait, old * sizeof(double), cap * sizeof(double))
            self.weight = <double*>self._grown(
                self.weight, old * sizeof(double), cap * sizeof(double))
            self.current = <double*>self._grown(
                self.current, old * sizeof(double), cap * sizeof(double))
            self.host_batch = <double*>self._grown(
                self.host_batch, old * sizeof(double), cap * sizeof(double))
            self.host_request = <double*>self._grown(
                self.host_request, old * sizeof(double), cap * sizeof(double))
            self.host_token = <double*>self._grown(
                self.host_token, old * sizeof(double), cap * sizeof(double))
            self.busy_area = <double*>self._grown(
                self.busy_area, old * sizeof(double), cap * sizeof(double))
            self.busy_last = <double*>self._grown(
                self.busy_last, old * sizeof(double), cap * sizeof(double))
            self.out_area = <double*>self._grown(
                self.out_area, old * sizeof(double), cap * sizeof(double))
            self.out_last = <double*>self._grown(
                self.out_last, old * sizeof(double), cap * sizeof(double))
            self.queue_limit = <int64_t*>self._grown(
                self.queue_limit, old * sizeof(int64_t), cap * sizeof(int64_t))
            self.outstanding = <int64_t*>self._grown(
                self.outstanding, old * sizeof(int64_t), cap * sizeof(int64_t))
            self.arrived_at = <int64_t*>self._grown(
                self.arrived_at, old * sizeof(int64_t), cap * sizeof(int64_t))
            self.completed_at = <int64_t*>self._grown(
                self.completed_at, old * sizeof(int64_t), cap * sizeof(int64_t))
            self.dropped_at = <int64_t*>self._grown(
                self.dropped_at, old * sizeof(int64_t), cap * sizeof(int64_t))
            self.table_at = <Py_ssize_t*>self._grown(
                self.table_at, old * sizeof(Py_ssize_t), cap * sizeof(Py_ssize_t))
            self.staged_at = <Py_ssize_t*>self._grown(
                self.staged_at, old * sizeof(Py_ssize_t), cap * sizeof(Py_ssize_t))
            self.staged_on = <char*>self._grown(self.staged_on, old, cap)
            self.host_on = <char*>self._grown(self.host_on, old, cap)
            self.deciding = <char*>self._grown(self.deciding, old, cap)
            self.timer_armed = <char*>self._grown(self.timer_armed, old, cap)
            self.state = <char*>self._grown(self.state, old, cap)
            self.queue = <Ring*>self._grown(self.queue, old * sizeof(Ring), cap * sizeof(Ring))
            self.cap = cap
        if slots > slot_cap:
            old_slots = slot_cap
            while slot_cap < slots:
                slot_cap = slot_cap * 2 if slot_cap else 8
            self.free_replica = <char*>self._grown(self.free_replica, old_slots, slot_cap)
            self.inside = <Ring*>self._grown(
                self.inside, old_slots * sizeof(Ring), slot_cap * sizeof(Ring))
            self.batches = <Ring*>self._grown(
                self.batches, old_slots * sizeof(Ring), slot_cap * sizeof(Ring))
            self.last_leave = <double*>self._grown(
                self.last_leave, old_slots * sizeof(double), slot_cap * sizeof(double))
            self.slot_cap = slot_cap
        if 2 * slots + 2 * instances + 16 > self.heap_cap:
            self.heap = <Entry*>self._grown(
                self.heap, self.heap_cap * sizeof(Entry),
                (2 * slots + 2 * instances + 16) * sizeof(Entry))
            self.heap_cap = 2 * slots + 2 * instances + 16
        return 0

    cdef int _setup(self, int code, int state) except -1:
        """A new instance of pool ``code``, numbered ``n``, in ``state``; returns its number."""
        cdef int j = self.n, r
        pool = self.pools[code]
        self._reserve(j + 1, self.slots + pool.replicas)
        self.service_fn.append(pool.service_s)
        self.staged_fn.append(pool.staged_s)
        self.pool_names.append(pool.name)
        self.staged_on[j] = pool.staged_s is not None
        self.max_batch[j] = pool.max_batch
        self.max_wait[j] = pool.max_wait_s
        self.weight[j] = NAN if pool.capacity_per_s is None else pool.capacity_per_s
        self.queue_limit[j] = min(pool.queue_limit, 1 << 62)
        self.depth[j] = pool.pipeline_depth
        self.replica_base[j] = self.slots
        self.replicas[j] = pool.replicas
        self.n_free[j] = pool.replicas
        self.table_at[j] = self.pool_table_at[code]
        self.staged_at[j] = self.pool_staged_at[code]
        self.jitter_of[j] = self.pool_jitter[code]
        host = pool.host
        self.host_batch[j] = host.batch_s
        self.host_request[j] = host.request_s
        self.host_token[j] = host.token_s
        self.host_on[j] = not host.free
        self.pool_code[j] = code
        self.model_of[j] = pool.model
        self.state[j] = state
        for r in range(pool.replicas):
            self.free_replica[self.slots + r] = 1
        self.slots += pool.replicas
        self.replica_base[j + 1] = self.slots
        self.n += 1
        if state == SERVING:
            self._join(j)
        return j

    cdef int _join(self, int j) except -1:
        """Instance ``j`` joins its model's balancer, in number order."""
        cdef int m = self.model_of[j], i
        cdef int* grown
        if self.n_active[m] == self.active_cap[m]:
            self.active[m] = <int*>self._grown(
                self.active[m], self.active_cap[m] * sizeof(int),
                (2 * self.active_cap[m] + 8) * sizeof(int))
            self.active_cap[m] = 2 * self.active_cap[m] + 8
        i = self.n_active[m]
        while i > 0 and self.active[m][i - 1] > j:
            self.active[m][i] = self.active[m][i - 1]
            i -= 1
        self.active[m][i] = j
        self.n_active[m] += 1
        self._regroup(m)
        return 0

    cdef int _leave(self, int j) except -1:
        """Instance ``j`` leaves its model's balancer (if it is in it)."""
        cdef int m = self.model_of[j], i, k
        for i in range(self.n_active[m]):
            if self.active[m][i] == j:
                for k in range(i, self.n_active[m] - 1):
                    self.active[m][k] = self.active[m][k + 1]
                self.n_active[m] -= 1
                self._regroup(m)
                return 0
        return 0

    cdef void _regroup(self, int m) noexcept:
        """Model ``m``'s group changed (``Balancer.resize``): the total weight follows and
        smooth WRR's current weights restart at 0."""
        cdef int i
        cdef double total = 0.0
        for i in range(self.n_active[m]):
            total += self.weight[self.active[m][i]]
            self.current[self.active[m][i]] = 0.0
        self.w_total[m] = total

    def __dealloc__(self):
        cdef int j
        if self.queue != NULL:
            for j in range(self.n):
                free(self.queue[j].rows)
        if self.inside != NULL and self.batches != NULL:
            for j in range(self.slots):
                free(self.inside[j].rows)
                free(self.batches[j].rows)
        free(self.scratch.rows)
        free(self.held.rows)
        free(self.caps)
        free(self.pend)
        free(self.pend_order)
        free(self.pend_live)
        free(self.pend_free)
        if self.active != NULL:
            for j in range(self.models):
                free(self.active[j])
        free(self.max_batch)
        free(self.max_wait)
        free(self.weight)
        free(self.current)
        free(self.w_total)
        free(self.queue_limit)
        free(self.table_at)
        free(self.staged_at)
        free(self.staged_on)
        free(self.table)
        free(self.jitter_of)
        free(self.host_batch)
        free(self.host_request)
        free(self.host_token)
        free(self.host_on)
        free(self.jitter_ptr)
        free(self.jitter_pos)
        free(self.jitter_len)
        free(self.depth)
        free(self.replica_base)
        free(self.replicas)
        free(self.free_replica)
        free(self.n_free)
        free(self.outstanding)
        free(self.arrived_at)
        free(self.completed_at)
        free(self.dropped_at)
        free(self.deciding)
        free(self.timer_armed)
        free(self.state)
        free(self.epoch)
        free(self.pool_code)
        free(self.model_of)
        free(self.busy_area)
        free(self.busy_last)
        free(self.out_area)
        free(self.out_last)
        free(self.queue)
        free(self.inside)
        free(self.batches)
        free(self.last_leave)
        free(self.pick)
        free(self.hop_model)
        free(self.hop_next)
        free(self.hop_seq)
        free(self.group_start)
        free(self.active)
        free(self.n_active)
        free(self.active_cap)
        free(self.rr_next)
        free(self.var_ptr)
        free(self.var_pos)
        free(self.var_len)
        free(self.pool_table_at)
        free(self.pool_staged_at)
        free(self.pool_jitter)
        free(self.heap)
        free(self.numbers)
        free(self.requests)

    # --- the fleet's events: a binary heap ordered by (time, key, order scheduled) ---

    cdef inline double next_s(self) noexcept:
        return self.heap[0].t if self.heap_n else INFINITY

    cdef int schedule(self, double when, uint64_t key, int kind, int inst,
                      int replica) except -1:
        cdef Entry* heap = self.heap
        cdef Py_ssize_t i, parent
        cdef Entry entry
        if self.heap_n == self.heap_cap:
            heap = <Entry*>self._alloc(2 * self.heap_cap * sizeof(Entry))
            for i in range(self.heap_n):
                heap[i] = self.heap[i]
            free(self.heap)
            self.heap = heap
            self.heap_cap *= 2
        entry.t = when
        entry.key = key
        entry.order = self.order
        entry.kind = kind
        entry.inst = inst
        entry.replica = replica
        entry.epoch = 0 if kind == WINDOW or kind == RETRY else self.epoch[inst]
        self.order += 1
        i = self.heap_n
        self.heap_n += 1
        while i > 0:
            parent = (i - 1) >> 1
            if not before(&entry, &heap[parent]):
                break
            heap[i] = heap[parent]
            i = parent
        heap[i] = entry
        return 0

    cdef Entry pop(self) noexcept:
        cdef Entry* heap = self.heap
        cdef Entry top = heap[0]
        cdef Entry moved
        cdef Py_ssize_t i = 0, child, n
        self.heap_n -= 1
        n = self.heap_n
        if n:
            moved = heap[n]
            while True:
                child = 2 * i + 1
                if child >= n:
                    break
                if child + 1 < n and before(&heap[child + 1], &heap[child]):
                    child += 1
                if before(&heap[child], &moved):
                    heap[i] = heap[child]
                    i = child
                else:
                    break
            heap[i] = moved
        return top

    # --- records ---

    cdef int record(self, double start, double finish, double service, double size,
                    double inst, double replica, double status, Ring* source,
                    Py_ssize_t count, bint take) except -1:
        """One record of ``count`` requests from the front of ``source`` (removed if take)."""
        cdef double* out
        cdef Row* row
        cdef Py_ssize_t i
        if self.numbers_n + 8 > self.numbers_cap:
            self._grow(&self.numbers, &self.numbers_cap, self.numbers_n + 8)
        out = self.numbers + self.numbers_n
        out[0] = start
        out[1] = finish
        out[2] = service
        out[3] = size
        out[4] = inst
        out[5] = replica
        out[6] = status
        out[7] = count
        self.numbers_n += 8
        if self.requests_n + 8 * count > self.requests_cap:
            self._grow(&self.requests, &self.requests_cap, self.requests_n + 8 * count)
        out = self.requests + self.requests_n
        for i in range(count):
            row = ring_pop(source) if take else ring_at(source, i)
            out[0] = row.a
            out[1] = row.b
            out[2] = row.c
            out[3] = row.d
            out[4] = row.e
            out[5] = row.f
            out[6] = row.g
            out[7] = row.h
            out += 8
        self.requests_n += 8 * count
        return 0

    cdef int _grow(self, double** buffer, Py_ssize_t* cap, Py_ssize_t need) except -1:
        cdef Py_ssize_t size = cap[0]
        cdef double* grown
        cdef Py_ssize_t i
        while size < need:
            size *= 2
        grown = <double*>self._alloc(size * sizeof(double))
        for i in range(cap[0]):
            grown[i] = buffer[0][i]
        free(buffer[0])
        buffer[0] = grown
        cap[0] = size
        return 0

    cdef int hand_over(self, writer) except -1:
        """Append the records made since the last call to the writer's arrays.

        Through ``array.frombytes``, which refuses to move an array while a view of it is
        held (a raw C-level extend would free the memory under that view).
        """
        if self.numbers_n:
            writer.numbers.frombytes((<char*>self.numbers)[:self.numbers_n * sizeof(double)])
            self.numbers_n = 0
        if self.requests_n:
            writer.requests.frombytes((<char*>self.requests)[:self.requests_n * sizeof(double)])
            self.requests_n = 0
        return 0

    # --- batching (sim.engine.model: Instance.decide, Replica.serve) ---

    cdef double jitter(self, int k) except -1:
        """The next factor of jitter draws ``k`` (the blocks ``JitterDraws.next`` reads)."""
        cdef const double[::1] block
        if self.jitter_pos[k] == self.jitter_len[k]:
            block = self.jitter_draws[k].block()
            self.jitter_blocks[k] = block
            self.jitter_ptr[k] = &block[0]
            self.jitter_len[k] = block.shape[0]
            self.jitter_pos[k] = 0
        self.jitter_pos[k] += 1
        return self.jitter_ptr[k][self.jitter_pos[k] - 1]

    cdef int start(self, int j, double now, Py_ssize_t size) except -1:
        """Start a batch of the ``size`` oldest requests whose clients still wait (the others
        are discarded, as ``Instance.take``) on the lowest free replica."""
        cdef Ring* q = &self.queue[j]
        cdef Ring* batch
        cdef double service, longest, out, leave_at, tokens, factor, host = 0.0, staged = 0.0
        cdef Py_ssize_t i, taken = 0, first
        cdef int r, slot
        cdef Row* row
        cdef uint64_t base = (FLEET_PHASE << PHASE_SHIFT) | (<uint64_t>j << INSTANCE_SHIFT)
        r = 0
        slot = self.replica_base[j]
        while not self.free_replica[slot]:
            r += 1
            slot += 1
        batch = &self.inside[slot]
        while taken < size and q.count:
            row = ring_pop(q)
            if row.e <= now:
                self.expire(j, now, row)
            else:
                ring_put(batch, row)
                taken += 1
        size = taken
        first = batch.count - size
        if self.table_at[j] >= 0:
            service = self.table[self.table_at[j] + size]
            if self.staged_at[j] >= 0:
                staged = self.table[self.staged_at[j] + size]
        else:
            longest = ring_at(batch, first).c
            for i in range(first + 1, first + size):
                if ring_at(batch, i).c > longest:
                    longest = ring_at(batch, i).c
            service = self.service_fn[j](size, <int64_t>longest)
            if not service >= 0:  # as sim.engine.model.Replica.accelerator_s
                raise ValueError(
                    f"pool {self.pool_names[j]!r}: a batch's service time is {service!r} s"
                )
            if self.staged_on[j]:
                staged = self.staged_fn[j](size, <int64_t>longest)
        if self.jitter_of[j] >= 0:
            factor = self.jitter(self.jitter_of[j])
            service *= factor
            staged *= factor
        if self.host_on[j]:  # as sim.policies.host.HostCoefficients.seconds
            tokens = 0.0
            for i in range(first, first + size):
                tokens += ring_at(batch, i).c
            host = self.host_batch[j] + self.host_request[j] * size + self.host_token[j] * tokens
        self.note_busy(j, now)
        self.free_replica[slot] = 0
        self.n_free[j] -= 1
        if self.depth[j] == 1 and not self.staged_on[j]:
            service = host + service
            ring_push(&self.batches[slot], now, service, size)
            self.schedule(now + service, base | <uint64_t>(2 + 2 * r), DONE, j, r)
        else:  # a pipeline (or a replica staging its next input) takes the next batch after
            # one interval; batches leave in order
            out = now + host + (service * self.depth[j] + staged)
            if out < self.last_leave[slot]:
                out = self.last_leave[slot]
            leave_at = now + delay_to(now, out)
            self.last_leave[slot] = leave_at
            ring_push(&self.batches[slot], now, out - now, size)
            self.schedule(now + (host + service), base | <uint64_t>(3 + 2 * r), FREED, j, r)
            self.schedule(leave_at, base | <uint64_t>(2 + 2 * r), LEAVE, j, r)
        return 0

    cdef int dispatch(self, int j, double now) except -1:
        """The batching decision for instance ``j`` at ``now`` (s)."""
        cdef Ring* q = &self.queue[j]
        cdef Py_ssize_t size, largest = self.max_batch[j]
        cdef double deadline
        self.deciding[j] = 0
        while q.count and self.n_free[j]:
            while q.count and ring_at(q, 0).e <= now:
                self.expire(j, now, ring_pop(q))
            if not q.count:
                return 0
            size = q.count
            if size < largest:
                deadline = ring_at(q, 0).f + self.max_wait[j]
                if now < deadline:
                    if not self.timer_armed[j]:
                        self.timer_armed[j] = 1
                        self.schedule(
                            now + delay_to(now, deadline),
                            (FLEET_PHASE << PHASE_SHIFT) | (<uint64_t>j << INSTANCE_SHIFT) | 1,
                            TIMER, j, 0,
                        )
                    return 0
            else:
                size = largest
            self.start(j, now, size)
        return 0

    cdef inline int ask_to_decide(self, int j, double now, bint alone) except -1:
        """Decide now if nothing else can happen at ``now`` (``alone``), else at its end."""
        if alone:
            self.dispatch(j, now)
        else:
            self.deciding[j] = 1
            self.schedule(now, (DECISION_PHASE << PHASE_SHIFT) | (<uint64_t>j << INSTANCE_SHIFT),
                          DECIDE, j, 0)
        return 0

    cdef int consider(self, int j, double now) except -1:
        """A replica freed or a deadline passed: a batch may start if requests wait."""
        if self.queue[j].count and not self.deciding[j]:
            self.ask_to_decide(j, now, self.next_s() > now)
        return 0

    cdef inline void depart(self, double now, Py_ssize_t size) noexcept:
        """Requests leave at ``now``: ``Occupancy.depart``."""
        if now > self.window:
            self.area += self.in_system * (now - self.last) + (
                self.arrived * now - self.arrived_sum
            )
            self.last = now
        self.in_system += self.arrived - size
        self.arrived = 0
        self.arrived_sum = 0.0

    cdef int step_user(self) except -1:
        """Process SimPy's next event (a user process), then note when the next is due."""
        self.env.step()
        self.next_user = self.env.peek()
        return 0

    cdef int advance(self, double t, bint users_at_t) except -1:
        """Process the events due before ``t`` (s), and SimPy's at ``t`` if ``users_at_t``.

        SimPy's events come first at an instant (phase 1), the fleet's after them.
        """
        cdef Entry entry
        cdef Py_ssize_t size
        cdef int j, slot
        cdef Row* batch
        cdef double now
        while True:
            if self.next_user <= self.next_s() and (
                self.next_user < t or (users_at_t and self.next_user == t)
            ):
                self.step_user()
                continue
            if not self.heap_n or self.heap[0].t >= t:
                return 0
            entry = self.pop()
            now = entry.t
            j = entry.inst
            if entry.kind == RETRY:
                self.retried(j, now)
                continue
            if entry.kind != WINDOW and entry.epoch != self.epoch[j]:
                continue  # the instance failed or ended after this was scheduled
            if entry.kind == DONE or entry.kind == LEAVE:
                slot = self.replica_base[j] + entry.replica
                batch = ring_pop(&self.batches[slot])
                size = <Py_ssize_t>batch.c
                self.record(batch.a, now, batch.b, size, j, entry.replica, self.ok,
                            &self.inside[slot], size, not self.staged)
                self.note_outstanding(j, now)
                self.outstanding[j] -= size
                self.completed_at[j] += size
                self.depart(now, size)
                if self.staged:
                    self.hand_on(&self.inside[slot], size, now)
                if entry.kind == DONE:
                    self.note_busy(j, now)
                    self.free_replica[slot] = 1
                    self.n_free[j] += 1
                if self.state[j] == DRAINING and not self.outstanding[j]:
                    self.end(j, now)
                    if self.gone is not None:
                        self.gone(j, now)
                elif entry.kind == DONE:
                    self.consider(j, now)
            elif entry.kind == DECIDE:
                self.dispatch(j, now)
            elif entry.kind == TIMER:
                self.timer_armed[j] = 0
                if self.n_free[j]:
                    self.consider(j, now)
            elif entry.kind == FREED:
                self.note_busy(j, now)
                self.free_replica[self.replica_base[j] + entry.replica] = 1
                self.n_free[j] += 1
                self.consider(j, now)
            else:  # WINDOW: earlier arrivals count from the window on
                self.in_system += self.arrived
                self.arrived = 0
                self.arrived_sum = 0.0

    cdef int hand_on(self, Ring* batch, Py_ssize_t size, double now) except -1:
        """The ``size`` requests at the front of ``batch`` left their stage at ``now`` (s):
        each with a next stage, its client still waiting, reaches that stage's balancer
        (``SimPyFleet.hand_on``); all are removed."""
        cdef Row row
        cdef Py_ssize_t i
        cdef int hop
        cdef double* rule
        for i in range(size):
            row = ring_pop(batch)[0]
            hop = self.hop_next[<int>row.g]
            if hop < 0 or not now < row.e:
                continue
            rule = &self.hop_seq[3 * hop]
            row.c = ceil(row.c * rule[0])
            if row.c < rule[1]:
                row.c = rule[1]
            if row.c > rule[2]:
                row.c = rule[2]
            row.f = now
            row.g = hop
            row.h = now
            self.send(&row, now)
        return 0

    cdef int send(self, Row* row, double now) except -1:
        """A retry or a hand-off reaches its hop's balancer at ``now`` (s)
        (``SimPyFleet.send``); refused if none of its hop's instances is in service."""
        cdef int m = self.hop_model[<int>row.g]
        cdef int j = self.choose(m)
        if j < 0:
            self.refuse(row, -1 - m, now)
        else:
            self.admit(j, row, now, False)
        return 0

    cdef double variate(self, int m) except -1:
        """The next uniform variate of model ``m``'s balancer (``Balancer.variates`` blocks)."""
        cdef const double[::1] block
        if self.var_pos[m] == self.var_len[m]:
            block = self.var_source[m]()
            self.var_blocks[m] = block
            self.var_ptr[m] = &block[0]
            self.var_len[m] = block.shape[0]
            self.var_pos[m] = 0
        self.var_pos[m] += 1
        return self.var_ptr[m][self.var_pos[m] - 1]

    cdef int choose(self, int m) except -2:
        """Instance for a request of model ``m``, chosen at its arrival; -1 if none serves.

        The forms of ``sim.policies.balancers`` over the instances in service (``active``).
        """
        cdef int k = self.n_active[m], i, best = 0, first, second
        cdef int* live = self.active[m]
        cdef int64_t nxt
        cdef double acc, target, load, best_load
        if k == 0:
            return -1
        if self.pick[m] == ROUND_ROBIN:
            nxt = self.rr_next[m]
            best = <int>nxt if nxt < k else 0
            self.rr_next[m] = best + 1
        elif self.pick[m] == RANDOM:
            best = <int>(self.variate(m) * k)
        elif self.pick[m] == POWER_OF_TWO:
            if k > 1:
                first = <int>(self.variate(m) * k)
                second = <int>(self.variate(m) * (k - 1))
                if second >= first:
                    second += 1
                best = second if self.outstanding[live[second]] < self.outstanding[live[first]] \
                    else first
        elif self.pick[m] == LEAST_OUTSTANDING:  # lowest index among the least loaded
            for i in range(1, k):
                if self.outstanding[live[i]] < self.outstanding[live[best]]:
                    best = i
        elif self.pick[m] == WEIGHTED_ROUND_ROBIN:  # WeightedRoundRobin.pick
            for i in range(k):
                self.current[live[i]] += self.weight[live[i]]
                if self.current[live[i]] > self.current[live[best]]:
                    best = i
            self.current[live[best]] -= self.w_total[m]
        elif self.pick[m] == WEIGHTED_RANDOM:  # first cumulative weight above u * total
            target = self.variate(m) * self.w_total[m]
            acc = 0.0
            best = k - 1
            for i in range(k):
                acc += self.weight[live[i]]
                if target < acc:
                    best = i
                    break
        elif self.pick[m] == WEIGHTED_LEAST_OUTSTANDING:  # lowest outstanding / weight
            best_load = self.outstanding[live[0]] / self.weight[live[0]]
            for i in range(1, k):
                load = self.outstanding[live[i]] / self.weight[live[i]]
                if load < best_load:
                    best = i
                    best_load = load
        else:  # lowest (queued, outstanding, index)
            for i in range(1, k):
                if self.queue[live[i]].count < self.queue[live[best]].count or (
                    self.queue[live[i]].count == self.queue[live[best]].count
                    and self.outstanding[live[i]] < self.outstanding[live[best]]
                ):
                    best = i
        return live[best]

    cdef int arrive(self, double t, double nxt, int64_t seq, int64_t first,
                    int64_t second, int64_t hop) except -1:
        """The arrival at ``t`` (s) of a request of route ``hop`` (its first hop); the next
        one arrives at ``nxt`` (s)."""
        cdef int j
        cdef Row row
        if first < 0:
            j = self.choose(<int>(-1 - first))
        elif self.outstanding[second] < self.outstanding[first]:
            j = <int>second
        else:
            j = <int>first
        row.a = <double>self.rid
        row.b = t
        row.c = <double>seq
        row.d = 1.0
        if self.timeout_s == self.timeout_s:  # not NaN: a fixed timeout
            row.e = t + self.timeout_s
        elif self.drawn_patience:
            row.e = t + self.draw(0)
        else:
            row.e = INFINITY
        row.f = t
        row.g = <double>hop
        row.h = t
        self.rid += 1
        if j < 0:  # no instance of its model in service: refused
            self.refuse(&row, <int>first, t)
        else:
            self.admit(j, &row, t, nxt > t and self.next_s() > t)
        return 0

    cdef int admit(self, int j, Row* row, double t, bint alone) except -1:
        """A request reaches instance ``j`` at ``t`` (s): queued, or refused if it is full."""
        cdef Ring* q = &self.queue[j]
        cdef Py_ssize_t size
        self.arrived_at[j] += 1
        if q.count >= self.queue_limit[j]:
            self.dropped_at[j] += 1
            self.refuse(row, j, t)
            return 0
        ring_put(q, row)
        self.arrived += 1
        self.arrived_sum += t
        self.note_outstanding(j, t)
        self.outstanding[j] += 1
        if self.n_free[j] and not self.deciding[j]:
            size = q.count
            if size < self.max_batch[j] and self.timer_armed[j]:
                return 0  # the armed timer or a full batch decides; this arrival cannot
            self.ask_to_decide(j, t, alone)
        return 0

    # --- clients (sim.engine.clients; SimPyFleet.refused, resend, Instance.expire) ---

    cdef double draw(self, int k) except? -1:
        """The next number of client draws ``k`` (0: patience, 1: backoff jitter)."""
        cdef const double[::1] block
        if self.draw_pos[k] == self.draw_len[k]:
            block = self.draw_source[k]()
            self.draw_blocks[k] = block
            self.draw_ptr[k] = &block[0]
            self.draw_len[k] = block.shape[0]
            self.draw_pos[k] = 0
        self.draw_pos[k] += 1
        return self.draw_ptr[k][self.draw_pos[k] - 1]

    cdef int refuse(self, Row* row, int code, double now) except -1:
        """A refused request (``code``: the full instance, or ``-1 - model``): sent again, or
        recorded dropped."""
        if not self.resend(row, code, now):
            ring_put(&self.scratch, row)
            self.record(NAN, NAN, NAN, 0, code, -1, self.dropped, &self.scratch, 1, True)
        return 0

    cdef bint resend(self, Row* row, int code, double now) except -1:
        """Send a request again after its backoff if it has attempts left (else False)."""
        cdef int attempt = <int>row.d, idx
        cdef double delay
        if row.e <= now:  # its client has already given up
            ring_put(&self.scratch, row)
            self.record(NAN, NAN, NAN, 0, code, -1, TIMED_OUT, &self.scratch, 1, True)
            return True
        if attempt >= self.max_attempts:
            return False
        delay = self.caps[attempt - 1]
        if self.drawn_jitter:
            delay = delay * self.draw(1)
        if now + delay >= row.e:
            ring_put(&self.scratch, row)
            self.record(NAN, NAN, NAN, 0, code, -1, TIMED_OUT, &self.scratch, 1, True)
            return True
        if self.pend_free_n:
            self.pend_free_n -= 1
            idx = self.pend_free[self.pend_free_n]
        else:
            if self.pend_n == self.pend_cap:
                self._grow_pending()
            idx = self.pend_n
            self.pend_n += 1
        self.pend[idx] = row[0]
        self.pend_order[idx] = self.order
        self.pend_live[idx] = 1
        self.schedule(now + delay, RETRY_KEY, RETRY, idx, 0)
        return True

    cdef int _grow_pending(self) except -1:
        cdef int cap = 2 * self.pend_cap + 16, old = self.pend_cap
        self.pend = <Row*>self._grown(self.pend, old * sizeof(Row), cap * sizeof(Row))
        self.pend_order = <uint64_t*>self._grown(
            self.pend_order, old * sizeof(uint64_t), cap * sizeof(uint64_t))
        self.pend_live = <char*>self._grown(self.pend_live, old, cap)
        self.pend_free = <int*>self._grown(self.pend_free, old * sizeof(int), cap * sizeof(int))
        self.pend_cap = cap
        return 0

    cdef int retried(self, int idx, double now) except -1:
        """A retry arrives at ``now`` (s): its balancer chooses again."""
        cdef Row row = self.pend[idx]
        self.pend_live[idx] = 0
        self.pend_free[self.pend_free_n] = idx
        self.pend_free_n += 1
        row.d += 1.0
        row.f = now
        self.send(&row, now)
        return 0

    cdef int expire(self, int j, double now, Row* row) except -1:
        """Discard a waiting request of instance ``j`` whose client gave up."""
        self.note_outstanding(j, now)
        self.outstanding[j] -= 1
        self.depart(now, 1)
        ring_put(&self.scratch, row)
        self.record(NAN, NAN, NAN, 0, j, -1, TIMED_OUT, &self.scratch, 1, True)
        return 0

    # --- integrals the controllers read (sim.engine.view) ---

    cdef inline void note_busy(self, int j, double now) noexcept:
        """Add the busy replica-seconds since the last change, before ``n_free`` changes."""
        self.busy_area[j] += (self.replicas[j] - self.n_free[j]) * (now - self.busy_last[j])
        self.busy_last[j] = now

    cdef inline void note_outstanding(self, int j, double now) noexcept:
        """Add the outstanding request-seconds since the last change, before it changes."""
        self.out_area[j] += self.outstanding[j] * (now - self.out_last[j])
        self.out_last[j] = now

    def run(self, chunks, double until_s, writer, progress):
        """Apply each chunk of routed requests, then run to ``until_s`` (s).

        ``chunks`` yields (arrival times s, sequence lengths, first candidates, second
        candidates, routes) as contiguous float64/int64 arrays (``sim.policies.routing``).
        """
        cdef const double[::1] times
        cdef const int64_t[::1] seqs, first, second, hops
        cdef Py_ssize_t i, n
        cdef double t, nxt
        flush_if_full = writer.flush_if_full
        if self.env is not None:
            self.next_user = self.env.peek()
        for times, seqs, first, second, hops in chunks:
            n = times.shape[0]
            for i in range(n):
                t = times[i]
                nxt = times[i + 1] if i + 1 < n else t
                if self.next_user <= t or (self.heap_n and self.heap[0].t < t):
                    self.advance(t, True)
                self.arrive(t, nxt, seqs[i], first[i], second[i], hops[i])
            self.hand_over(writer)
            flush_if_full()
            if progress is not None and n and times[n - 1] < until_s:
                progress(times[n - 1] / until_s)
        self.advance(until_s, False)
        self.hand_over(writer)
        flush_if_full()

    def record_in_flight(self, writer):
        """At the end of the run: per instance, the batches inside its replicas, then its
        queue, recorded ``in_flight`` (``sim.engine.model.Instance.record_in_flight``);
        then the requests waiting to be sent again (``SimPyFleet.record_in_flight``)."""
        cdef int j, r, slot, idx
        cdef Py_ssize_t i, k, size
        cdef Row* row
        cdef Ring one
        for j in range(self.n):
            for r in range(self.replicas[j]):
                slot = self.replica_base[j] + r
                k = 0
                for i in range(self.batches[slot].count):
                    row = ring_at(&self.batches[slot], i)
                    size = <Py_ssize_t>row.c
                    one = self.inside[slot]
                    one.head = (one.head + k) & (one.cap - 1)
                    self.record(row.a, NAN, row.b, size, j, r, self.in_flight, &one, size,
                                False)
                    k += size
            for i in range(self.queue[j].count):
                one = self.queue[j]
                one.head = (one.head + i) & (one.cap - 1)
                self.record(NAN, NAN, NAN, 0, j, -1, self.in_flight, &one, 1, False)
        waiting = sorted((self.pend_order[i], i) for i in range(self.pend_n) if self.pend_live[i])
        for _, idx in waiting:  # waiting to be sent again, in the order their retries were set
            ring_put(&self.scratch, &self.pend[idx])
            self.record(NAN, NAN, NAN, 0, -1 - self.hop_model[<int>self.pend[idx].g], -1,
                        self.in_flight, &self.scratch, 1, True)
        self.hand_over(writer)

    def occupancy(self):
        """The requests-in-system integral, as ``sim.engine.occupancy.Occupancy``."""
        result = Occupancy(self.window)
        result.in_system = self.in_system
        result.last_s = self.last
        result.area = self.area
        result.arrived = self.arrived
        result.arrived_sum_s = self.arrived_sum
        return result

    # --- the state a FleetView reads (sim.engine.view.FleetState) ---

    def waiting(self, int instance):
        """Requests waiting for a replica at an instance."""
        return self.queue[self._check(instance)].count

    def in_service(self, int instance):
        """Requests inside an instance's replicas."""
        cdef int j = self._check(instance)
        return self.outstanding[j] - self.queue[j].count

    def busy_replicas(self, int instance):
        """Replicas of an instance that cannot take a batch now."""
        cdef int j = self._check(instance)
        return self.replicas[j] - self.n_free[j]

    def arrivals_at(self, int instance):
        """Requests routed to an instance so far (dropped ones included)."""
        return self.arrived_at[self._check(instance)]

    def completions_at(self, int instance):
        """Requests an instance has finished so far."""
        return self.completed_at[self._check(instance)]

    def drops_at(self, int instance):
        """Requests an instance has dropped so far."""
        return self.dropped_at[self._check(instance)]

    def busy_replica_s(self, int instance, double now):
        """Replica-seconds an instance's replicas were busy up to ``now`` (s)."""
        cdef int j = self._check(instance)
        return self.busy_area[j] + (self.replicas[j] - self.n_free[j]) * (now - self.busy_last[j])

    def outstanding_request_s(self, int instance, double now):
        """Request-seconds outstanding (waiting or in service) at an instance up to ``now``."""
        cdef int j = self._check(instance)
        return self.out_area[j] + self.outstanding[j] * (now - self.out_last[j])

    # --- fleet actions (sim.engine.lifecycle; the view records the lifetimes) ---

    def add_instance(self, int pool_code):
        """A new instance of pool ``pool_code``, starting (not in service); its number."""
        if not 0 <= pool_code < len(self.pools):
            raise IndexError(f"pool code {pool_code} outside 0..{len(self.pools) - 1}")
        return self._setup(pool_code, STARTING)

    def activate(self, int instance, double now):
        """A starting or failed instance goes into service, empty, at ``now`` (s)."""
        cdef int j = self._check(instance)
        self.busy_last[j] = now
        self.out_last[j] = now
        self.state[j] = SERVING
        self._join(j)

    def drain(self, int instance, double now):
        """No new requests for an instance in service; True if it ended at once (idle)."""
        cdef int j = self._check(instance)
        self._leave(j)
        if self.state[j] == SERVING and self.outstanding[j]:
            self.state[j] = DRAINING
            return False
        self.end(j, now)
        return True

    def fail(self, int instance, double now):
        """An instance is lost at ``now`` (s): its requests are recorded ``failed``."""
        cdef int j = self._check(instance)
        self.lose(j, now)
        self.state[j] = DOWN

    def terminate(self, int instance, double now):
        """An instance ends at ``now`` (s); requests inside it are lost as in ``fail``."""
        cdef int j = self._check(instance)
        self.lose(j, now)
        self.end(j, now)

    cdef int end(self, int j, double now) except -1:
        """Instance ``j`` is gone: out of its balancer, its pending events stale, its
        integrals frozen (a pipelined replica may still count as busy until its FREED)."""
        self._leave(j)
        self.note_busy(j, now)
        self.note_outstanding(j, now)
        self.n_free[j] = self.replicas[j]
        self.state[j] = GONE
        self.epoch[j] += 1
        return 0

    cdef int lose(self, int j, double now) except -1:
        """Record every request at instance ``j`` failed and empty it, as if new.

        In the order of ``record_in_flight``: per replica its batches oldest first, then the
        queue in arrival order.
        """
        cdef int r, slot
        cdef Py_ssize_t i, size, lost = 0
        cdef Row* row
        cdef Row header
        self._leave(j)
        self.note_busy(j, now)
        self.note_outstanding(j, now)
        for r in range(self.replicas[j]):
            slot = self.replica_base[j] + r
            while self.batches[slot].count:
                header = ring_pop(&self.batches[slot])[0]
                size = <Py_ssize_t>header.c
                for i in range(size):
                    row = ring_pop(&self.inside[slot])
                    if not self.resend(row, j, now):
                        ring_put(&self.held, row)
                if self.held.count:
                    self.record(header.a, NAN, header.b, size, j, r, self.failed, &self.held,
                                self.held.count, True)
                lost += size
            self.free_replica[slot] = 1
            self.last_leave[slot] = 0.0
        while self.queue[j].count:
            row = ring_pop(&self.queue[j])
            if not self.resend(row, j, now):
                ring_put(&self.scratch, row)
                self.record(NAN, NAN, NAN, 0, j, -1, self.failed, &self.scratch, 1, True)
            lost += 1
        if lost:
            self.depart(now, lost)
        self.n_free[j] = self.replicas[j]
        self.outstanding[j] = 0
        self.deciding[j] = 0
        self.timer_armed[j] = 0
        self.epoch[j] += 1
        return 0

    def state_of(self, int instance):
        """An instance's ``sim.engine.lifecycle.InstanceState`` code."""
        return self.state[self._check(instance)]

    cdef int _check(self, int instance) except -1:
        if instance < 0 or instance >= self.n:
            raise IndexError(f"instance {instance} outside 0..{self.n - 1}")
        return instance
