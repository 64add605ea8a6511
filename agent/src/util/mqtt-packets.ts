import { writeToStream } from 'mqtt-packet';

/**
 * mqtt-packet (the encoder under both mqtt.js and aedes) builds, at its first packet, a cache of
 * one Buffer for each of the 65,536 two-byte integers: 6.3 MB of heap on a host that sends a
 * few packets a second, and 65,536 more objects for every full GC to mark. Off, each number is
 * written as it comes (docs/benchmarks.md, "Idle"). Called before the first client or broker
 * starts; calling it again does nothing.
 */
export function leanMqttPackets(): void {
  writeToStream.cacheNumbers = false;
}
