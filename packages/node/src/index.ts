/**
 * @bootstrap-cache/node — Effect services and Layers for bootstrap-cache on Node.
 */
