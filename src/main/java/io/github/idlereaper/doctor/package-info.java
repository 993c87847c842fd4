/**
 * The doctor: host diagnostics for dead-peer detection, and the jar's command line
 * ({@code java -jar idle-reaper.jar doctor}).
 *
 * <p>It reads the host's TCP keepalive and retransmission sysctls, its conntrack timeout and the open-file limit, and
 * puts them next to a reaper's {@link io.github.idlereaper.DetectionSettings}: the worst-case time each layer takes to
 * find a peer that vanished, and warnings where one is slower than an idle limit on the path
 * ({@link io.github.idlereaper.doctor.IdleLimit}). The result is a {@link io.github.idlereaper.doctor.DoctorReport},
 * from {@link io.github.idlereaper.IdleReaper#doctor} or {@link io.github.idlereaper.doctor.DoctorReport#examine}.
 *
 * <p>This package runs on the JDK alone: nothing in it, nor in the little of {@code io.github.idlereaper} it uses
 * ({@code DetectionSettings}, {@code IdleTimeouts}), loads a Netty or SLF4J class, so the command line needs no
 * dependency on its class path. A test runs it with class loading logged and checks.
 */
package io.github.idlereaper.doctor;
