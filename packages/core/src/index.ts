/**
 * @bootstrap-cache/core — the functional core: pure data in, data out.
 * No I/O, no clock, no randomness of its own: time and random draws arrive as arguments.
 */
