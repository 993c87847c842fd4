package io.github.idlereaper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The soak's verdict ({@link SoakReport}) on connections made up by hand: every way a connection can fail its group
 * is counted as a failure, and the allowances (a loop hold, an accept that came late, a client that was itself late,
 * a reap after the run) are taken only where they apply. The soak itself runs with {@code bash benchmarks/soak.sh}.
 */
class SoakReportTest {

    private static final long MS = 1_000_000L;
    /** Every time here is ms after this, in nanoTime's units; far from 0, which means "not yet". */
    private static final long T0 = 1_000_000 * MS;
    private static final long END = T0 + 60_000 * MS;

    private final List<SoakServer.Conn> conns = new ArrayList<>();
    private final Map<SoakGroup, List<SoakReport.ClientRec>> clients = new EnumMap<>(SoakGroup.class);
    private final List<SoakReport.Hold> holds = new ArrayList<>();
    private int nextPort = 40_000;

    /** A connection opened at {@code openMs}, reaped for {@code reason} at {@code reapMs} (0: never), closed 5 ms after. */
    private SoakServer.Conn conn(SoakGroup g, int loop, long openMs, ReapReason reason, long reapMs) {
        SoakServer.Conn c = new SoakServer.Conn(g, "198.18.0.2", nextPort++, loop, at(openMs));
        if (reason != null) {
            c.reason = reason;
            c.reapNanos = at(reapMs);
            c.closeNanos = at(reapMs + 5);
        }
        conns.add(c);
        return c;
    }

    /** The client's record of {@code c}: connected 1 ms before the accept, its act at {@code anchorMs} (0: none). */
    private void client(SoakServer.Conn c, long anchorMs, boolean late) {
        clients.computeIfAbsent(c.group, k -> new ArrayList<>()).add(new SoakReport.ClientRec(c.remotePort,
                c.openNanos - MS, anchorMs == 0 ? 0 : at(anchorMs), 0, late));
    }

    private static long at(long ms) {
        return T0 + ms * MS;
    }

    private SoakReport judge() {
        SoakReport r = new SoakReport(200, 1_000, 1_000);
        r.judge(conns, clients, holds, END);
        return r;
    }

    @Test
    void aReapWithinItsBoundIsNoFailure() {
        conn(SoakGroup.HEARTBEAT_ONLY, 0, 1_000, ReapReason.READ_IDLE, 11_150);
        client(conn(SoakGroup.HALF_CLOSED, 0, 1_000, ReapReason.HALF_CLOSED, 7_100), 2_000, false);
        SoakReport r = judge();
        assertEquals(0, r.failures(), r::examples);
        assertEquals(List.of(10_150 * MS), r.rows.get(SoakGroup.HEARTBEAT_ONLY).timesNanos);
        assertEquals(List.of(5_100 * MS), r.rows.get(SoakGroup.HALF_CLOSED).timesNanos);
    }

    @Test
    void aKeptConnectionReapedIsAFalseReap_unlessItsClientWasLate() {
        client(conn(SoakGroup.ACTIVE, 0, 1_000, ReapReason.READ_IDLE, 30_000), 0, false);
        client(conn(SoakGroup.ACTIVE, 0, 1_000, ReapReason.READ_IDLE, 30_000), 0, true);
        client(conn(SoakGroup.ACTIVE, 0, 1_000, null, 0), 0, false);
        SoakReport.Row row = judge().rows.get(SoakGroup.ACTIVE);
        assertEquals(1, row.falseReaps);
        assertEquals(1, row.clientLate);
        assertEquals(1, row.kept);
        assertEquals(1, row.failures());
    }

    @Test
    void aKeptConnectionReapedAfterItsClientStalledIsClientLate_butNotOneReapedLongAfter() {
        client(conn(SoakGroup.ACTIVE, 0, 1_000, ReapReason.HEARTBEAT_TIMEOUT, 30_000), 0, false);
        client(conn(SoakGroup.ACTIVE, 0, 1_000, ReapReason.HEARTBEAT_TIMEOUT, 45_000), 0, false);
        SoakReport r = new SoakReport(200, 1_000, 1_000);
        r.clientStalls(List.of(new SoakReport.Hold(SoakGroup.ACTIVE.ordinal(), at(25_000), at(25_400)),
                new SoakReport.Hold(SoakGroup.SILENT.ordinal(), at(40_000), at(44_000))));
        r.judge(conns, clients, holds, END);
        assertEquals(1, r.rows.get(SoakGroup.ACTIVE).clientLate);
        assertEquals(1, r.rows.get(SoakGroup.ACTIVE).falseReaps, "another group's client stall excuses nothing");
    }

    @Test
    void aReapBeforeItsLowerBoundIsAFalseReap_evenByAMillisecond() {
        conn(SoakGroup.HEARTBEAT_ONLY, 0, 1_000, ReapReason.READ_IDLE, 10_999);
        assertEquals(1, judge().rows.get(SoakGroup.HEARTBEAT_ONLY).falseReaps);
    }

    @Test
    void aReapBeforeTheDoomBeganIsAFalseReap() {
        client(conn(SoakGroup.STOPPED_READER, 0, 1_000, ReapReason.WRITE_STALL, 9_000), 0, false); // never stopped
        assertEquals(1, judge().rows.get(SoakGroup.STOPPED_READER).falseReaps);
    }

    @Test
    void aReapPastUpperTickAndSlackIsMissed_unlessALoopHoldOnItsLoopOverlapsIt() {
        conn(SoakGroup.HEARTBEAT_ONLY, 0, 1_000, ReapReason.READ_IDLE, 12_201); // 10,000 + 200 + 1,000 + 1
        conn(SoakGroup.HEARTBEAT_ONLY, 1, 1_000, ReapReason.READ_IDLE, 13_000);
        conn(SoakGroup.HEARTBEAT_ONLY, 0, 1_000, ReapReason.READ_IDLE, 13_000);
        holds.add(new SoakReport.Hold(1, at(9_000), at(11_000)));
        SoakReport.Row row = judge().rows.get(SoakGroup.HEARTBEAT_ONLY);
        assertEquals(2, row.missed, judge()::examples);
        conns.clear();
        conn(SoakGroup.HEARTBEAT_ONLY, 1, 1_000, ReapReason.READ_IDLE, 14_401); // past the hold's 2,200 too
        assertEquals(1, judge().rows.get(SoakGroup.HEARTBEAT_ONLY).missed);
    }

    @Test
    void aDoomedConnectionStillOpenPastItsBoundIsMissed_andOneWithinItIsUnfinished() {
        conn(SoakGroup.HEARTBEAT_ONLY, 0, 40_000, null, 0);
        conn(SoakGroup.HEARTBEAT_ONLY, 0, 55_000, null, 0);
        SoakReport.Row row = judge().rows.get(SoakGroup.HEARTBEAT_ONLY);
        assertEquals(1, row.missed);
        assertEquals(1, row.unfinished);
    }

    @Test
    void aWrongReasonIsAFailure() {
        conn(SoakGroup.HEARTBEAT_ONLY, 0, 1_000, ReapReason.HEARTBEAT_TIMEOUT, 11_000);
        assertEquals(1, judge().rows.get(SoakGroup.HEARTBEAT_ONLY).wrongReason);
    }

    @Test
    void aReapAfterTheRunEndedIsNotJudged() {
        client(conn(SoakGroup.ACTIVE, 0, 1_000, ReapReason.HALF_CLOSED, 65_000), 0, false);
        SoakReport r = judge();
        assertEquals(0, r.failures());
        assertEquals(1, r.rows.get(SoakGroup.ACTIVE).kept);
    }

    @Test
    void aClientsActBeforeTheAcceptCountsFromTheAccept() {
        // The FIN went out at 1,000 while the connection waited in the accept queue until 2,500.
        client(conn(SoakGroup.HALF_CLOSED, 0, 2_500, ReapReason.HALF_CLOSED, 7_600), 1_000, false);
        SoakReport r = judge();
        assertEquals(0, r.failures(), r::examples);
        assertEquals(List.of(5_100 * MS), r.rows.get(SoakGroup.HALF_CLOSED).timesNanos);
    }

    @Test
    void aReapWhoseCloseTakesLongerThanTheGoodbyeTimeoutIsMissed() {
        SoakServer.Conn c = conn(SoakGroup.HEARTBEAT_ONLY, 0, 1_000, ReapReason.READ_IDLE, 11_100);
        c.closeNanos = at(11_100 + 2_201); // goodbye 1,000 + tick 200 + slack 1,000
        assertEquals(1, judge().rows.get(SoakGroup.HEARTBEAT_ONLY).missed);
    }

    @Test
    void aDoomedConnectionWithoutItsClientsRecordIsUnmatched() {
        conn(SoakGroup.HALF_CLOSED, 0, 1_000, ReapReason.HALF_CLOSED, 6_100);
        assertEquals(1, judge().rows.get(SoakGroup.HALF_CLOSED).unmatched);
    }

    @Test
    void theTableHasARowPerGroupAndNamesFailures() {
        conn(SoakGroup.HEARTBEAT_ONLY, 0, 1_000, ReapReason.READ_IDLE, 10_500);
        SoakReport r = judge();
        String table = r.table();
        for (SoakGroup g : SoakGroup.values()) {
            assertTrue(table.contains("| " + g.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-') + " |"),
                    g::name);
        }
        assertTrue(r.examples().contains("early: READ_IDLE 9500 ms after its anchor"), r::examples);
    }
}
