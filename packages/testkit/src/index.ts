/**
 * @bootstrap-cache/testkit — test Layers, fast-check arbitraries, a local contacts server and a
 * simulated network.
 */
