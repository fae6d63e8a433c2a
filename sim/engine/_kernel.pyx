# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False
"""The event loop of ``sim.engine.loop``, compiled: the same rules, the state in C arrays.

``sim.engine.loop._loop`` is the definition; this module runs the same steps in the same order with
typed state, so a run gives identical records (``tests/test_engine_reference.py`` runs both
against the reference engine). What differs is only representation:

* a request, a batch header and a record are rows of doubles (request ids and sequence
  lengths are integers below 2**53, exact in float64; the trace stores them as doubles too);
* each queue, and the batches inside each replica with their requests, are ring buffers;
* the calendar is one binary heap of (time, order scheduled) - the same order as
  ``sim.engine.calendar.Calendar``, whose ties go first-scheduled first;
* records collect in a C buffer and are appended to the writer's arrays after each chunk,
  where the Python loop appends them one by one: the writer sees the same numbers at each
  ``flush_if_full``.

It covers runs without SimPy processes in the environment and with the library's balancers;
``sim.engine.loop.drive`` falls back to the Python loop otherwise. Compiled with
``-ffp-contract=off``: a fused multiply-add would round differently from Python.
"""

from libc.math cimport INFINITY, NAN, nextafter
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport free, malloc

from collections import deque

from sim.engine.trace_writer import DROPPED, OK

cdef enum Kind:
    DONE = 0  # a replica's batch is finished
    TIMER = 1  # an instance's max_wait deadline
    LEAVE = 2  # the oldest batch leaves a pipelined replica
    FREED = 3  # a pipelined replica can take its next batch
    WINDOW = 4  # the occupancy window starts

cdef enum Pick:
    DRAWN = 0  # candidates drawn in advance (Balancer.draw)
    LEAST_OUTSTANDING = 1
    SHORTEST_QUEUE = 2

cdef struct Entry:
    double t
    uint64_t order
    int kind
    int inst
    int replica

cdef struct Row:  # a request (id, arrival s, seq len) or a batch (start s, service s, size)
    double a
    double b
    double c

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


cdef inline double at_or_after(double now, double when) noexcept:
    """``sim.engine.fleet.at_or_after``: smallest ``now + d`` (d >= 0) not before ``when``."""
    cdef double delay = when - now
    if delay <= 0:
        return now
    while now + delay < when:
        delay = nextafter(delay, INFINITY)
    return now + delay


cdef class Core:
    """A fleet's state in C arrays, and the loop over it.

    Args:
        fleet: A fresh ``sim.engine.fleet.Fleet`` (nothing run yet, no SimPy events pending).
        picks: Per model: 0 if its balancer draws candidates in advance, 1 for least
            outstanding, 2 for join-shortest-queue (chosen here at each arrival).

    """

    cdef int n
    cdef int* max_batch
    cdef double* max_wait
    cdef int64_t* queue_limit
    cdef Py_ssize_t* table_at  # offset of the instance's service-by-size table, or -1
    cdef double* table
    cdef list service_fn
    cdef int* depth
    cdef int* replica_base  # first replica slot of each instance
    cdef int* replicas
    cdef char* free_replica
    cdef int* n_free
    cdef int64_t* outstanding
    cdef char* deciding
    cdef char* timer_armed
    cdef Ring* queue  # per instance
    cdef Ring* inside  # per replica slot: the requests of its batches, oldest first
    cdef Ring* batches  # per replica slot: (start s, time inside s, size), oldest first
    cdef double* last_exit
    cdef int models
    cdef int* pick
    cdef int* group_start
    # calendar
    cdef Entry* heap
    cdef Py_ssize_t heap_n
    cdef Py_ssize_t heap_cap
    cdef uint64_t order
    cdef int* late
    cdef Py_ssize_t n_late
    cdef double late_s
    # records since the last hand-over to the writer
    cdef double* numbers
    cdef Py_ssize_t numbers_n
    cdef Py_ssize_t numbers_cap
    cdef double* requests
    cdef Py_ssize_t requests_n
    cdef Py_ssize_t requests_cap
    # occupancy (see sim.engine.fleet.Occupancy)
    cdef int64_t in_system
    cdef int64_t arrived
    cdef double arrived_sum
    cdef double area
    cdef double last
    cdef double window
    cdef int64_t rid
    cdef double ok
    cdef double dropped

    def __cinit__(self, fleet, list picks):
        cdef int j, r, slots, m
        cdef Py_ssize_t cells
        n = fleet.size
        self.n = n
        self.max_batch = <int*>self._alloc(n * sizeof(int))
        self.max_wait = <double*>self._alloc(n * sizeof(double))
        self.queue_limit = <int64_t*>self._alloc(n * sizeof(int64_t))
        self.table_at = <Py_ssize_t*>self._alloc(n * sizeof(Py_ssize_t))
        self.depth = <int*>self._alloc(n * sizeof(int))
        self.replica_base = <int*>self._alloc((n + 1) * sizeof(int))
        self.replicas = <int*>self._alloc(n * sizeof(int))
        self.n_free = <int*>self._alloc(n * sizeof(int))
        self.outstanding = <int64_t*>self._alloc(n * sizeof(int64_t))
        self.deciding = <char*>self._alloc(n * sizeof(char))
        self.timer_armed = <char*>self._alloc(n * sizeof(char))
        self.queue = <Ring*>self._alloc(n * sizeof(Ring))
        self.late = <int*>self._alloc((n + 1) * sizeof(int))
        self.service_fn = list(fleet.service_s)
        cells = 0
        slots = 0
        for j in range(n):
            self.max_batch[j] = fleet.max_batch[j]
            self.max_wait[j] = fleet.max_wait_s[j]
            self.queue_limit[j] = min(fleet.queue_limit[j], 1 << 62)
            self.depth[j] = fleet.depth[j]
            self.replica_base[j] = slots
            self.replicas[j] = len(fleet.free[j])
            self.n_free[j] = fleet.n_free[j]
            self.outstanding[j] = fleet.outstanding[j]
            self.deciding[j] = 0
            self.timer_armed[j] = 0
            slots += self.replicas[j]
            by_size = fleet.service_by_size_s[j]
            if by_size is None:
                self.table_at[j] = -1
            else:
                self.table_at[j] = cells
                cells += len(by_size)
        self.replica_base[n] = slots
        self.table = <double*>self._alloc((cells + 1) * sizeof(double))
        for j in range(n):
            if self.table_at[j] >= 0:
                for r, value in enumerate(fleet.service_by_size_s[j]):
                    self.table[self.table_at[j] + r] = value
        self.free_replica = <char*>self._alloc((slots + 1) * sizeof(char))
        self.inside = <Ring*>self._alloc((slots + 1) * sizeof(Ring))
        self.batches = <Ring*>self._alloc((slots + 1) * sizeof(Ring))
        self.last_exit = <double*>self._alloc((slots + 1) * sizeof(double))
        for j in range(n):
            for r in range(self.replicas[j]):
                self.free_replica[self.replica_base[j] + r] = 1 if fleet.free[j][r] else 0
                leave = fleet.leave[j]
                self.last_exit[self.replica_base[j] + r] = leave[r].last_exit_s if leave else 0.0
        self.models = len(picks)
        self.pick = <int*>self._alloc((self.models + 1) * sizeof(int))
        self.group_start = <int*>self._alloc((self.models + 1) * sizeof(int))
        for m in range(self.models):
            self.pick[m] = picks[m]
        for m in range(self.models + 1):
            self.group_start[m] = fleet.group_start[m]
        self.heap_cap = 2 * slots + n + 16
        self.heap = <Entry*>self._alloc(self.heap_cap * sizeof(Entry))
        self.heap_n = 0
        self.order = 0
        self.n_late = 0
        self.late_s = fleet.calendar.late_s
        self.numbers_cap = 8 * 4096
        self.numbers = <double*>self._alloc(self.numbers_cap * sizeof(double))
        self.requests_cap = 3 * 8192
        self.requests = <double*>self._alloc(self.requests_cap * sizeof(double))
        occupancy = fleet.occupancy
        self.in_system = occupancy.in_system
        self.arrived = occupancy.arrived
        self.arrived_sum = occupancy.arrived_sum_s
        self.area = occupancy.area
        self.last = occupancy.last_s
        self.window = occupancy.start_s
        self.rid = 0
        self.ok = OK
        self.dropped = DROPPED
        if self.window > fleet.env.now:  # as sim.engine.loop schedules WindowStart, first
            self.schedule(self.window, WINDOW, 0, 0)

    cdef void* _alloc(self, size_t size) except NULL:
        """Zeroed memory, freed with the object."""
        cdef char* p = <char*>malloc(size if size else 1)
        cdef size_t i
        if p == NULL:
            raise MemoryError()
        for i in range(size):
            p[i] = 0
        return p

    def __dealloc__(self):
        cdef int j
        if self.queue != NULL:
            for j in range(self.n):
                free(self.queue[j].rows)
        if self.inside != NULL and self.replica_base != NULL:
            for j in range(self.replica_base[self.n] + 1):  # + the scratch slot for drops
                free(self.inside[j].rows)
                free(self.batches[j].rows)
        free(self.max_batch)
        free(self.max_wait)
        free(self.queue_limit)
        free(self.table_at)
        free(self.table)
        free(self.depth)
        free(self.replica_base)
        free(self.replicas)
        free(self.free_replica)
        free(self.n_free)
        free(self.outstanding)
        free(self.deciding)
        free(self.timer_armed)
        free(self.queue)
        free(self.inside)
        free(self.batches)
        free(self.last_exit)
        free(self.pick)
        free(self.group_start)
        free(self.heap)
        free(self.late)
        free(self.numbers)
        free(self.requests)

    # --- the calendar: a binary heap ordered by (time, order scheduled) ---

    cdef inline double next_s(self) noexcept:
        return self.heap[0].t if self.heap_n else INFINITY

    cdef int schedule(self, double when, int kind, int inst, int replica) except -1:
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
        entry.order = self.order
        entry.kind = kind
        entry.inst = inst
        entry.replica = replica
        self.order += 1
        i = self.heap_n
        self.heap_n += 1
        while i > 0:
            parent = (i - 1) >> 1
            if heap[parent].t <= when:
                break  # the parent is earlier, or tied and so scheduled before
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
                if child + 1 < n and (
                    heap[child + 1].t < heap[child].t
                    or (heap[child + 1].t == heap[child].t
                        and heap[child + 1].order < heap[child].order)
                ):
                    child += 1
                if heap[child].t < moved.t or (
                    heap[child].t == moved.t and heap[child].order < moved.order
                ):
                    heap[i] = heap[child]
                    i = child
                else:
                    break
            heap[i] = moved
        return top

    # --- records ---

    cdef int record(self, double start, double finish, double service, double size,
                    double inst, double replica, double status, Ring* source,
                    Py_ssize_t count) except -1:
        """One record; its ``count`` requests are taken from the front of ``source``."""
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
        if self.requests_n + 3 * count > self.requests_cap:
            self._grow(&self.requests, &self.requests_cap, self.requests_n + 3 * count)
        out = self.requests + self.requests_n
        for i in range(count):
            row = ring_pop(source)
            out[0] = row.a
            out[1] = row.b
            out[2] = row.c
            out += 3
        self.requests_n += 3 * count
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

    # --- batching (sim.engine.loop: start, dispatch) ---

    cdef int start(self, int j, double now, Py_ssize_t size) except -1:
        """Start a batch of the ``size`` oldest requests on the lowest free replica."""
        cdef Ring* q = &self.queue[j]
        cdef double service, longest, out
        cdef Py_ssize_t i
        cdef int r, slot
        cdef Row* row
        if self.table_at[j] >= 0:
            service = self.table[self.table_at[j] + size]
        else:
            longest = ring_at(q, 0).c
            for i in range(1, size):
                if ring_at(q, i).c > longest:
                    longest = ring_at(q, i).c
            service = self.service_fn[j](size, <int64_t>longest)
        r = 0
        slot = self.replica_base[j]
        while not self.free_replica[slot]:
            r += 1
            slot += 1
        self.free_replica[slot] = 0
        self.n_free[j] -= 1
        for i in range(size):
            row = ring_pop(q)
            ring_push(&self.inside[slot], row.a, row.b, row.c)
        if self.depth[j] == 1:
            ring_push(&self.batches[slot], now, service, size)
            self.schedule(now + service, DONE, j, r)
        else:  # a pipeline takes the next batch after one interval; this one leaves later
            out = now + service * self.depth[j]
            if out < self.last_exit[slot]:
                out = self.last_exit[slot]
            self.last_exit[slot] = out
            ring_push(&self.batches[slot], now, out - now, size)
            self.schedule(now + service, FREED, j, r)
            self.schedule(at_or_after(now, out), LEAVE, j, r)
        return 0

    cdef int dispatch(self, int j, double now) except -1:
        """The batching decision for instance ``j`` at ``now`` (s)."""
        cdef Ring* q = &self.queue[j]
        cdef Py_ssize_t size, largest = self.max_batch[j]
        cdef double deadline
        self.deciding[j] = 0
        while q.count and self.n_free[j]:
            size = q.count
            if size < largest:
                deadline = ring_at(q, 0).b + self.max_wait[j]
                if now < deadline:
                    if not self.timer_armed[j]:
                        self.timer_armed[j] = 1
                        self.schedule(at_or_after(now, deadline), TIMER, j, 0)
                    return 0
            else:
                size = largest
            self.start(j, now, size)
        return 0

    cdef int decide(self, int j, double now) except -1:
        """A replica is free or a deadline came: decide now, or at the instant's end."""
        if self.queue[j].count and not self.deciding[j]:
            if self.next_s() > now and not self.n_late:
                self.dispatch(j, now)
            else:
                self.defer(j, now)
        return 0

    cdef inline void defer(self, int j, double now) noexcept:
        """Instance ``j`` decides at the end of instant ``now`` (s), after all else then."""
        self.deciding[j] = 1
        self.late[self.n_late] = j
        self.n_late += 1
        self.late_s = now

    cdef inline void fold(self, double now, Py_ssize_t size) noexcept:
        """Requests leave at ``now``: fold the arrivals since the last fold (Occupancy)."""
        if now > self.window:
            self.area += self.in_system * (now - self.last) + (
                self.arrived * now - self.arrived_sum
            )
            self.last = now
        self.in_system += self.arrived - size
        self.arrived = 0
        self.arrived_sum = 0.0

    cdef int advance(self, double t) except -1:
        """Process calendar entries before ``t`` (s) and decisions deferred before it."""
        cdef Entry entry
        cdef Py_ssize_t i, size
        cdef int j, slot
        cdef Row* batch
        cdef double now
        while True:
            if self.n_late and t > self.late_s and self.late_s < self.next_s():
                for i in range(self.n_late):
                    self.dispatch(self.late[i], self.late_s)
                self.n_late = 0
                continue
            if not self.heap_n or self.heap[0].t >= t:
                return 0
            entry = self.pop()
            now = entry.t
            j = entry.inst
            if entry.kind == DONE or entry.kind == LEAVE:
                slot = self.replica_base[j] + entry.replica
                batch = ring_pop(&self.batches[slot])
                size = <Py_ssize_t>batch.c
                self.record(batch.a, now, batch.b, size, j, entry.replica, self.ok,
                            &self.inside[slot], size)
                self.outstanding[j] -= size
                self.fold(now, size)
                if entry.kind == LEAVE:
                    continue
                self.free_replica[slot] = 1
                self.n_free[j] += 1
            elif entry.kind == TIMER:
                self.timer_armed[j] = 0
                if not self.n_free[j]:
                    continue
            elif entry.kind == FREED:
                self.free_replica[self.replica_base[j] + entry.replica] = 1
                self.n_free[j] += 1
            else:  # WINDOW: earlier arrivals count from the window on
                self.in_system += self.arrived
                self.arrived = 0
                self.arrived_sum = 0.0
                continue
            self.decide(j, now)

    cdef int choose(self, int m) noexcept:
        """Instance for a request of model ``m`` whose balancer reads the state now."""
        cdef int lo = self.group_start[m], hi = self.group_start[m + 1], i, best = lo
        if self.pick[m] == LEAST_OUTSTANDING:  # lowest index among the least loaded
            for i in range(lo + 1, hi):
                if self.outstanding[i] < self.outstanding[best]:
                    best = i
        else:  # lowest (queued, outstanding, index)
            for i in range(lo + 1, hi):
                if self.queue[i].count < self.queue[best].count or (
                    self.queue[i].count == self.queue[best].count
                    and self.outstanding[i] < self.outstanding[best]
                ):
                    best = i
        return best

    cdef int arrive(self, double t, double nxt, int64_t seq, int64_t first,
                    int64_t second) except -1:
        """The arrival at ``t`` (s) of a request; the next one arrives at ``nxt`` (s)."""
        cdef int j
        cdef Ring* q
        cdef Py_ssize_t size
        if first < 0:
            j = self.choose(<int>(-1 - first))
        elif self.outstanding[second] < self.outstanding[first]:
            j = <int>second
        else:
            j = <int>first
        q = &self.queue[j]
        if q.count >= self.queue_limit[j]:
            ring_push(&self.inside[self.replica_base[self.n]], <double>self.rid, t, <double>seq)
            self.record(NAN, NAN, NAN, 0, j, -1, self.dropped,
                        &self.inside[self.replica_base[self.n]], 1)
            self.rid += 1
            return 0
        ring_push(q, <double>self.rid, t, <double>seq)
        self.rid += 1
        self.arrived += 1
        self.arrived_sum += t
        self.outstanding[j] += 1
        if self.n_free[j] and not self.deciding[j]:
            size = q.count
            if size < self.max_batch[j] and self.timer_armed[j]:
                return 0  # the armed timer or a full batch decides; this arrival cannot
            if nxt > t and self.next_s() > t and not self.n_late:  # nothing else at t
                self.dispatch(j, t)
            else:
                self.defer(j, t)
        return 0

    def run(self, chunks, double until_s, writer, progress):
        """Apply each chunk of routed requests, then run to ``until_s`` (s).

        ``chunks`` yields (arrival times s, sequence lengths, first candidates, second
        candidates) as contiguous float64/int64 arrays (see ``sim.policies.routing.candidates``).
        """
        cdef const double[::1] times
        cdef const int64_t[::1] seqs, first, second
        cdef Py_ssize_t i, n
        cdef double t, nxt
        flush_if_full = writer.flush_if_full
        for times, seqs, first, second in chunks:
            n = times.shape[0]
            for i in range(n):
                t = times[i]
                nxt = times[i + 1] if i + 1 < n else t
                if self.n_late or (self.heap_n and self.heap[0].t < t):
                    self.advance(t)
                self.arrive(t, nxt, seqs[i], first[i], second[i])
            self.hand_over(writer)
            flush_if_full()
            if progress is not None and times[n - 1] < until_s:
                progress(times[n - 1] / until_s)
        self.advance(until_s)
        self.hand_over(writer)
        flush_if_full()

    def export(self, fleet):
        """Write the state back into ``fleet`` (for ``record_in_flight`` and readers).

        The instances' queues, replicas, batches inside them and counters, and the occupancy;
        not the calendar (the run is over: ``fleet.calendar`` stays as it was).
        """
        cdef int j, r, slot
        cdef Py_ssize_t i, k, size
        cdef Ring* ring
        cdef Row* row
        for j in range(self.n):
            ring = &self.queue[j]
            fleet.queue[j] = deque(
                [(<int64_t>ring_at(ring, i).a, ring_at(ring, i).b, <int64_t>ring_at(ring, i).c)
                 for i in range(ring.count)]
            )
            fleet.n_free[j] = self.n_free[j]
            fleet.outstanding[j] = self.outstanding[j]
            fleet.deciding[j] = bool(self.deciding[j])
            fleet.timer_armed[j] = bool(self.timer_armed[j])
            for r in range(self.replicas[j]):
                slot = self.replica_base[j] + r
                fleet.free[j][r] = bool(self.free_replica[slot])
                flying = []
                k = 0
                for i in range(self.batches[slot].count):
                    row = ring_at(&self.batches[slot], i)
                    size = <Py_ssize_t>row.c
                    batch = [
                        (<int64_t>ring_at(&self.inside[slot], k + b).a,
                         ring_at(&self.inside[slot], k + b).b,
                         <int64_t>ring_at(&self.inside[slot], k + b).c)
                        for b in range(size)
                    ]
                    k += size
                    flying.append((row.a, row.b, batch))
                if self.depth[j] == 1:
                    if flying:
                        done = fleet.done[j][r]
                        done.start_s, done.service_s, done.batch = flying[0]
                else:
                    leave = fleet.leave[j][r]
                    leave.flying = deque(flying)
                    leave.last_exit_s = self.last_exit[slot]
        fleet.calendar.late_s = self.late_s
        occupancy = fleet.occupancy
        occupancy.in_system = self.in_system
        occupancy.arrived = self.arrived
        occupancy.arrived_sum_s = self.arrived_sum
        occupancy.area = self.area
        occupancy.last_s = self.last
