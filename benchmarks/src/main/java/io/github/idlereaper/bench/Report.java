package io.github.idlereaper.bench;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a suite run found: the table rows (figure, reaper, Netty baseline, ratio, goal, holds?), free-text details,
 * and every measured number by key, so a test can check that each figure was computed. Not thread-safe: figures
 * fill it one after another on the suite's thread.
 */
final class Report {

    /** One line of the table; {@code holds} is "yes", "**NO**" or a word on why neither can be said. */
    record Row(String id, String figure, String reaper, String netty, String ratio, String goal, String holds) {
    }

    private final List<Row> rows = new ArrayList<>();
    private final List<String> details = new ArrayList<>();
    private final Map<String, Double> metrics = new LinkedHashMap<>();

    void row(String id, String figure, String reaper, String netty, String ratio, String goal, boolean holds) {
        rows.add(new Row(id, figure, reaper, netty, ratio, goal, holds ? "yes" : "**NO**"));
    }

    void row(String id, String figure, String reaper, String netty, String ratio, String goal, String holds) {
        rows.add(new Row(id, figure, reaper, netty, ratio, goal, holds));
    }

    void detail(String format, Object... args) {
        String line = String.format(Locale.ROOT, format, args);
        details.add(line);
        System.out.println("  " + line);
    }

    void metric(String key, double value) {
        metrics.put(key, value);
    }

    Map<String, Double> metrics() {
        return Collections.unmodifiableMap(metrics);
    }

    List<Row> rows() {
        return Collections.unmodifiableList(rows);
    }

    List<String> details() {
        return Collections.unmodifiableList(details);
    }

    /** The report as lines of tab-separated fields, for a parent JVM to {@link #deserialize}. */
    List<String> serialize() {
        List<String> lines = new ArrayList<>();
        for (Row r : rows) {
            lines.add(String.join("\t", "R", clean(r.id()), clean(r.figure()), clean(r.reaper()), clean(r.netty()),
                    clean(r.ratio()), clean(r.goal()), clean(r.holds())));
        }
        for (String d : details) {
            lines.add("D\t" + clean(d));
        }
        metrics.forEach((k, v) -> lines.add("M\t" + clean(k) + "\t" + v));
        return lines;
    }

    static Report deserialize(List<String> lines) {
        Report r = new Report();
        for (String line : lines) {
            String[] f = line.split("\t", -1);
            switch (f[0]) {
                case "R":
                    r.rows.add(new Row(f[1], f[2], f[3], f[4], f[5], f[6], f[7]));
                    break;
                case "D":
                    r.details.add(f[1]);
                    break;
                case "M":
                    r.metrics.put(f[1], Double.parseDouble(f[2]));
                    break;
                default:
                    throw new IllegalArgumentException("not a report line: " + line);
            }
        }
        return r;
    }

    /** Adds another report's rows, details and metrics after this one's. */
    void merge(Report other) {
        rows.addAll(other.rows);
        details.addAll(other.details);
        metrics.putAll(other.metrics);
    }

    private static String clean(String s) {
        return s.replace('\t', ' ').replace('\n', ' ');
    }

    /** The table in Markdown. */
    String table() {
        StringBuilder sb = new StringBuilder();
        sb.append("| # | Figure | idle-reaper | Netty baseline | Ratio | Goal | Holds? |\n");
        sb.append("| --- | --- | --- | --- | --- | --- | --- |\n");
        for (Row r : rows) {
            sb.append("| ").append(r.id()).append(" | ").append(r.figure()).append(" | ").append(r.reaper())
                    .append(" | ").append(r.netty()).append(" | ").append(r.ratio()).append(" | ").append(r.goal())
                    .append(" | ").append(r.holds()).append(" |\n");
        }
        return sb.toString();
    }

    static String fmt(String format, Object... args) {
        return String.format(Locale.ROOT, format, args);
    }

    /** reaper / netty as "0.12×", or "—" when the baseline is zero or not a number. */
    static String ratio(double reaper, double netty) {
        if (!Double.isFinite(reaper) || !Double.isFinite(netty) || Math.abs(netty) < 1e-9) {
            return "—";
        }
        return fmt("%.2f×", reaper / netty);
    }
}
