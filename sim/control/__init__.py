"""Controllers of a living fleet (issue 15): autoscaling, failures, spot and zone outages.

Each is a SimPy process ``f(env, fleet)`` acting on ``sim.engine.view.FleetView`` through its
actions only (``add_instance``, ``drain``, ``fail``, ``restore``, ``terminate``; and
``watch_added``, to hear of every instance added by any process), so the same controllers
run on both engines. ``controllers_for`` builds them from a scenario.
"""
