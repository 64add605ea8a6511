export * from './messages.js';
export * from './mqtt.js';
export * from './codec.js';
export * from './endpoint.js';
