/** @tonne/client: everything a frontend needs to read and drive a Tonne deployment with viem. */
export * from './deployment.js'
export * from './units.js'
export * from './ids.js'
export * from './errors.js'
export * from './certificates.js'
export * from './registry.js'
export * from './holdings.js'
export * from './market.js'
