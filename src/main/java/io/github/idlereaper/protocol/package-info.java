/**
 * Built-in {@link io.github.idlereaper.HeartbeatProtocol heartbeat protocols}: WebSocket, HTTP/2, MQTT 3.1.1 and 5,
 * and line or byte payloads for custom protocols. Each speaks through Netty's own codec, which is an optional
 * dependency of idle-reaper: a host that uses a protocol already has its codec. Every type here is immutable and
 * thread-safe; one instance serves every channel.
 */
package io.github.idlereaper.protocol;
