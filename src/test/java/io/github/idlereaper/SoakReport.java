package io.github.idlereaper;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The soak's verdict ({@link SoakMain}): joins what the server saw of each connection with what its client did, and
 * judges every connection against its group ({@link SoakGroup}).
 *
 * <ul>
 *   <li>A <b>false reap</b>: a kept connection reaped, or a doomed one reaped before its lower bound (early) or
 *       before its doom began (a stopped reader reaped while it still read, say).
 *   <li>A <b>missed reap</b>: a doomed connection not reaped by its upper bound + one tick + the slack (the loop's
 *       own delay), or reaped but not closed within the goodbye timeout + one tick + the slack after.
 *       When its event loop was held up while its clock ran (the soak's own 2 s hold, a collection, a starved CPU:
 *       the loop's own delay, sampled every 50 ms), its bound moves by the delay: reaps after a stall are late by up
 *       to the stall (docs/design.md), never early.
 *   <li>A client's act (its last byte, its FIN) is dated by the client; when the server accepted the connection
 *       later (the accept queue under load), the clock starts at the accept, since no timer can start before.
 *   <li>A <b>wrong reason</b>: reaped for a reason the group does not expect.
 *   <li><b>Client late</b>: a kept connection reaped after its own client let a gap reach the timeout, or after its
 *       client's JVM could not run for 300 ms or more in the 10 s before (on two cores shared with the server); that
 *       reap was the client's doing, so it is shown but is no failure.
 *   <li><b>Dropped</b>: a kept connection closed by neither the reaper nor the run's end: the harness's failure.
 * </ul>
 */
final class SoakReport {

    /** A client's record of one connection (see {@link SoakClient}). */
    static final class ClientRec {
        final int localPort;
        final long connectStart;
        final long anchor;
        final long closeSeen;
        final boolean clientLate;

        ClientRec(int localPort, long connectStart, long anchor, long closeSeen, boolean clientLate) {
            this.localPort = localPort;
            this.connectStart = connectStart;
            this.anchor = anchor;
            this.closeSeen = closeSeen;
            this.clientLate = clientLate;
        }

        static ClientRec parse(String line) {
            String[] f = line.split(" ");
            return new ClientRec(Integer.parseInt(f[1]), Long.parseLong(f[2]), Long.parseLong(f[3]),
                    Long.parseLong(f[4]), f[5].equals("1"));
        }
    }

    long maxAcceptMillis() {
        return TimeUnit.NANOSECONDS.toMillis(maxAcceptNanos);
    }

    /** One of the soak's loop holds: loop index, start, end (nanoTime). */
    static final class Hold {
        final int loop;
        final long start;
        final long end;

        Hold(int loop, long start, long end) {
            this.loop = loop;
            this.start = start;
            this.end = end;
        }
    }

    /** One group's line of the table. */
    static final class Row {
        final SoakGroup group;
        int connections;
        int kept;
        final Map<ReapReason, Integer> reaps = new EnumMap<>(ReapReason.class);
        final List<Long> timesNanos = new ArrayList<>();
        int falseReaps;
        int missed;
        int wrongReason;
        int clientLate;
        int dropped;
        int unmatched;
        int unfinished;
        /** The worst reap's lateness past upper + tick, ms (negative: within it). */
        long worstLateMillis = Long.MIN_VALUE;
        final List<String> examples = new ArrayList<>();

        Row(SoakGroup group) {
            this.group = group;
        }

        int failures() {
            return falseReaps + missed + wrongReason + dropped + unmatched;
        }

        private void example(String s) {
            if (examples.size() < 3) {
                examples.add(s);
            }
        }
    }

    final Map<SoakGroup, Row> rows = new EnumMap<>(SoakGroup.class);
    /** Every connection, one line each, times in ms from the first open: for a look at a failed run. */
    final StringBuilder csv = new StringBuilder("group,address,port,loop,open_ms,anchor_ms,reap_ms,reason,close_ms,"
            + "client_late\n");
    private long origin;
    /** The longest a connection waited from its client's connect to the server's accept. */
    long maxAcceptNanos;
    final long tickNanos;
    final long slackNanos;
    final long goodbyeNanos;

    SoakReport(long tickMillis, long slackMillis, long goodbyeMillis) {
        this.tickNanos = TimeUnit.MILLISECONDS.toNanos(tickMillis);
        this.slackNanos = TimeUnit.MILLISECONDS.toNanos(slackMillis);
        this.goodbyeNanos = TimeUnit.MILLISECONDS.toNanos(goodbyeMillis);
        for (SoakGroup g : SoakGroup.values()) {
            rows.put(g, new Row(g));
        }
    }

    /**
     * Judges every connection the server saw.
     *
     * @param conns the server's connections, closed and still open
     * @param clients each group's client records
     * @param delays the event loops' delays, the soak's own holds among them
     * @param endNanos when the run ended (the clients were told to stop)
     */
    void judge(Collection<SoakServer.Conn> conns, Map<SoakGroup, List<ClientRec>> clients, List<Hold> delays,
            long endNanos) {
        List<Hold> holds = new ArrayList<>(delays);
        holds.sort(Comparator.comparingLong(h -> h.start));
        Map<SoakGroup, Map<Integer, List<ClientRec>>> byPort = new EnumMap<>(SoakGroup.class);
        clients.forEach((g, recs) -> {
            Map<Integer, List<ClientRec>> m = new HashMap<>();
            for (ClientRec r : recs) {
                m.computeIfAbsent(r.localPort, k -> new ArrayList<>()).add(r);
            }
            m.values().forEach(l -> l.sort(Comparator.comparingLong(r -> r.connectStart)));
            byPort.put(g, m);
        });
        origin = conns.stream().mapToLong(c -> c.openNanos).min().orElse(0);
        for (SoakServer.Conn c : conns) {
            if (c.group == null) {
                continue; // counted by the server as an unknown peer
            }
            Row row = rows.get(c.group);
            row.connections++;
            ClientRec client = match(byPort.getOrDefault(c.group, Map.of()).get(c.remotePort), c.openNanos);
            if (client != null) {
                maxAcceptNanos = Math.max(maxAcceptNanos, c.openNanos - client.connectStart);
            }
            csv.append(c.group).append(',').append(c.address).append(',').append(c.remotePort).append(',')
                    .append(c.loop).append(',').append(at(c.openNanos)).append(',')
                    .append(c.group.anchor == SoakGroup.Anchor.OPEN ? at(c.openNanos)
                            : client == null ? "" : at(client.anchor)).append(',')
                    .append(at(c.reapNanos)).append(',').append(c.reason == null ? "" : c.reason).append(',')
                    .append(at(c.closeNanos)).append(',').append(client != null && client.clientLate ? 1 : 0)
                    .append('\n');
            if (c.reapNanos != 0 && c.reapNanos - endNanos > 0) {
                c.reapNanos = 0; // after the run's end, when its client left: not the run's business
                c.reason = null;
            }
            if (c.reapNanos != 0) {
                row.reaps.merge(c.reason, 1, Integer::sum);
            }
            if (c.group.kept()) {
                judgeKept(row, c, client, endNanos);
            } else {
                judgeDoomed(row, c, client, holds, endNanos);
            }
        }
    }

    private String at(long nanos) {
        return nanos == 0 ? "" : String.format(Locale.ROOT, "%.1f", (nanos - origin) / 1e6);
    }

    private static ClientRec match(List<ClientRec> recs, long openNanos) {
        ClientRec best = null;
        if (recs != null) {
            for (ClientRec r : recs) {
                if (r.connectStart - openNanos <= 0) {
                    best = r;
                }
            }
        }
        return best;
    }

    private void judgeKept(Row row, SoakServer.Conn c, ClientRec client, long endNanos) {
        if (c.reapNanos != 0) {
            if (client != null && client.clientLate || clientStalled(c.group, c.reapNanos)) {
                row.clientLate++;
            } else {
                row.falseReaps++;
                row.example("false reap: " + c.reason + " " + millis(c.reapNanos - c.openNanos) + " ms after the open, "
                        + c.address + ":" + c.remotePort);
            }
        } else if (c.closeNanos != 0 && c.closeNanos - endNanos < 0) {
            row.dropped++;
            row.example("dropped: closed " + millis(c.closeNanos - c.openNanos) + " ms after the open with no reap, "
                    + c.address + ":" + c.remotePort);
        } else {
            row.kept++;
        }
    }

    private void judgeDoomed(Row row, SoakServer.Conn c, ClientRec client, List<Hold> holds, long endNanos) {
        long anchor;
        if (c.group.anchor == SoakGroup.Anchor.OPEN) {
            anchor = c.openNanos;
        } else if (client == null) {
            row.unmatched++;
            row.example("unmatched: no client record for " + c.address + ":" + c.remotePort);
            return;
        } else if (client.anchor == 0) {
            anchor = 0;
        } else {
            // No timer of the server's can start before it accepts the connection: under load, a client's act can
            // wait in the accept queue (the ramp of 15,000 connects, say).
            anchor = Math.max(client.anchor, c.openNanos);
        }
        if (c.reapNanos == 0) {
            if (anchor == 0) {
                row.unfinished++; // its doom had not begun
                return;
            }
            long deadline = deadline(c, anchor, TimeUnit.MILLISECONDS.toNanos(c.group.upperMillis()) + tickNanos,
                    holds);
            long at = c.closeNanos != 0 ? c.closeNanos : endNanos;
            if (at - deadline > 0) {
                row.missed++;
                row.example("missed: not reaped " + millis(at - anchor) + " ms after its anchor (bound "
                        + millis(deadline - anchor) + " ms), " + c.address + ":" + c.remotePort);
            } else {
                row.unfinished++;
            }
            return;
        }
        SoakGroup.Bound bound = c.group.expected.get(c.reason);
        if (bound == null) {
            row.wrongReason++;
            row.example("wrong reason: " + c.reason + ", " + c.address + ":" + c.remotePort);
            return;
        }
        if (anchor == 0 || c.reapNanos - anchor < TimeUnit.MILLISECONDS.toNanos(bound.lowerMillis)) {
            row.falseReaps++;
            row.example("early: " + c.reason + (anchor == 0 ? " before its doom began"
                    : " " + millis(c.reapNanos - anchor) + " ms after its anchor, lower bound " + bound.lowerMillis
                    + " ms") + ", " + c.address + ":" + c.remotePort);
            return;
        }
        long t = c.reapNanos - anchor;
        row.timesNanos.add(t);
        row.worstLateMillis = Math.max(row.worstLateMillis,
                TimeUnit.NANOSECONDS.toMillis(t - TimeUnit.MILLISECONDS.toNanos(bound.upperMillis) - tickNanos));
        long deadline = deadline(c, anchor, TimeUnit.MILLISECONDS.toNanos(bound.upperMillis) + tickNanos, holds);
        long closeBy = deadline(c, c.reapNanos, goodbyeNanos + tickNanos, holds);
        if (c.reapNanos - deadline > 0) {
            row.missed++;
            row.example("late: " + c.reason + " " + millis(t) + " ms after its anchor, bound "
                    + millis(deadline - anchor) + " ms with tick and slack, " + c.address + ":" + c.remotePort);
        } else if ((c.closeNanos == 0 ? endNanos : c.closeNanos) - closeBy > 0) {
            row.missed++;
            row.example("not closed within the goodbye timeout: " + c.reason + ", " + c.address + ":" + c.remotePort);
        }
    }

    /**
     * {@code boundNanos} + slack after {@code anchor}, moved on by each delay of the connection's loop that overlaps
     * the clock so far (in order, so that a deadline moved by one delay takes in the next).
     */
    private long deadline(SoakServer.Conn c, long anchor, long boundNanos, List<Hold> holds) {
        long deadline = anchor + boundNanos;
        for (Hold h : holds) {
            if (h.loop == c.loop && h.end - anchor > 0 && h.start - deadline < 0) {
                deadline += h.end - h.start;
            }
        }
        return deadline + slackNanos;
    }

    /** The loops' delays, one line each, on the same clock as {@link #csv}. */
    String delaysCsv(List<Hold> delays) {
        StringBuilder sb = new StringBuilder("loop,start_ms,delay_ms\n");
        for (Hold h : delays) {
            sb.append(h.loop).append(',').append(at(h.start)).append(',')
                    .append(String.format(Locale.ROOT, "%.1f", (h.end - h.start) / 1e6)).append('\n');
        }
        return sb.toString();
    }

    private final List<Hold> clientStalls = new ArrayList<>();

    /** The clients' own stalls over 300 ms; a stall's loop is its client's group's ordinal. */
    void clientStalls(List<Hold> stalls) {
        clientStalls.addAll(stalls);
    }

    /** Whether the group's client could not run for 300 ms or more in the 10 s before {@code reapNanos}. */
    private boolean clientStalled(SoakGroup g, long reapNanos) {
        for (Hold h : clientStalls) {
            if (h.loop == g.ordinal() && h.end - (reapNanos - TimeUnit.SECONDS.toNanos(10)) > 0
                    && h.start - reapNanos < 0) {
                return true;
            }
        }
        return false;
    }

    int failures() {
        int n = 0;
        for (Row r : rows.values()) {
            n += r.failures();
        }
        return n;
    }

    private static String millis(long nanos) {
        return String.format(Locale.ROOT, "%.0f", nanos / 1e6);
    }

    private static String percentile(List<Long> sorted, double q) {
        if (sorted.isEmpty()) {
            return "–";
        }
        int i = (int) Math.min(sorted.size() - 1, Math.ceil(q * sorted.size()) - 1);
        return millis(sorted.get(Math.max(0, i)));
    }

    /** The per-group table, in Markdown. */
    String table() {
        StringBuilder sb = new StringBuilder();
        sb.append("| group | conns | kept | reaps by reason | time to reap ms: min / p50 / p99 / max | bound ms | "
                + "worst past bound ms | false | missed | other |\n");
        sb.append("| --- | ---: | ---: | --- | --- | --- | ---: | ---: | ---: | --- |\n");
        for (Row r : rows.values()) {
            List<Long> t = new ArrayList<>(r.timesNanos);
            t.sort(null);
            StringBuilder reasons = new StringBuilder();
            r.reaps.forEach((reason, n) -> reasons.append(reasons.length() == 0 ? "" : ", ")
                    .append(reason.name()).append(' ').append(n));
            StringBuilder bound = new StringBuilder();
            r.group.expected.forEach((reason, b) -> bound.append(bound.length() == 0 ? "" : "; ")
                    .append(r.group.expected.size() > 1 ? reason.name() + " " : "")
                    .append(b.lowerMillis).append("–").append(b.upperMillis + TimeUnit.NANOSECONDS.toMillis(tickNanos)));
            StringBuilder other = new StringBuilder();
            appendIf(other, "wrong reason", r.wrongReason);
            appendIf(other, "dropped", r.dropped);
            appendIf(other, "unmatched", r.unmatched);
            appendIf(other, "client late", r.clientLate);
            appendIf(other, "unfinished at the end", r.unfinished);
            sb.append("| ").append(r.group.name().toLowerCase(Locale.ROOT).replace('_', '-'))
                    .append(" | ").append(r.connections)
                    .append(" | ").append(r.group.kept() ? String.valueOf(r.kept) : "–")
                    .append(" | ").append(reasons.length() == 0 ? "none" : reasons)
                    .append(" | ").append(t.isEmpty() ? "–" : millis(t.get(0)) + " / " + percentile(t, 0.5) + " / "
                            + percentile(t, 0.99) + " / " + millis(t.get(t.size() - 1)))
                    .append(" | ").append(r.group.kept() ? "kept" : bound)
                    .append(" | ").append(r.worstLateMillis == Long.MIN_VALUE ? "–" : String.valueOf(r.worstLateMillis))
                    .append(" | ").append(r.falseReaps)
                    .append(" | ").append(r.missed)
                    .append(" | ").append(other.length() == 0 ? "" : other)
                    .append(" |\n");
        }
        return sb.toString();
    }

    /** The first few failures of each group, one per line. */
    String examples() {
        StringBuilder sb = new StringBuilder();
        for (Row r : rows.values()) {
            for (String e : r.examples) {
                sb.append(r.group.name()).append(": ").append(e).append('\n');
            }
        }
        return sb.toString();
    }

    private static void appendIf(StringBuilder sb, String what, int n) {
        if (n > 0) {
            sb.append(sb.length() == 0 ? "" : ", ").append(what).append(' ').append(n);
        }
    }
}
