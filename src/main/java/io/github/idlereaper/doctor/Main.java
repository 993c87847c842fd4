package io.github.idlereaper.doctor;

import io.github.idlereaper.DetectionSettings;
import io.github.idlereaper.IdleTimeouts;
import java.io.PrintStream;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The jar's command line: {@code java -jar idle-reaper.jar doctor [options]} prints the {@link DoctorReport} for
 * this host and the reaper configuration given as options. Without any reaper option (only {@code --limit}, or
 * nothing) it checks the host alone, and says how to give a configuration, rather than judge a reaper with every
 * layer off.
 *
 * <p>It runs with only the JDK on the class path: nothing here, nor in what it uses, touches Netty or SLF4J. Values
 * are checked by {@link DetectionSettings.Builder}, with the reaper builder's rules and messages.
 */
final class Main {

    static final String USAGE = String.join("\n",
            "usage: java -jar idle-reaper.jar doctor [options]",
            "Reports the host's TCP settings and how long each layer of a reaper takes to find a dead peer.",
            "Without reaper options it checks the host only.",
            "Options take your reaper's configuration (durations: 30s, 500ms, 5m, 1h or PT30S):",
            "  --read-idle D        readIdleTimeout",
            "  --all-idle D         allIdleTimeout",
            "  --write-stall D      writeStallTimeout",
            "  --tick D             tickResolution (default: the builder's)",
            "  --keepalive I,N,C    tcpKeepAlive: idle, interval, count (for example 60s,10s,6)",
            "  --user-timeout D     tcpUserTimeout",
            "  --heartbeat I,T,N    heartbeat: interval, timeout, maxMissed (for example 30s,10s,3)",
            "  --limit L            an idle limit on the path: aws-nlb (350s), azure-lb (4m), gcp (10m),",
            "                       or name=duration; repeatable",
            "");

    private static final Pattern SIMPLE = Pattern.compile("(\\d{1,9})(ms|s|m|h)");

    private Main() {
    }

    public static void main(String[] args) {
        int status = run(args, System.out, System.err, HostDoctor::readFile);
        if (status != 0) {
            System.exit(status);
        }
    }

    /** Runs the command line; returns the exit status: 0, or 2 for a usage error. */
    static int run(String[] args, PrintStream out, PrintStream err, Function<String, String> files) {
        if (args.length == 0 || !args[0].equals("doctor")) {
            err.print(USAGE);
            return 2;
        }
        IdleTimeouts.Builder timeouts = IdleTimeouts.builder();
        DetectionSettings.Builder settings = DetectionSettings.builder();
        LinkedHashMap<String, Duration> limits = new LinkedHashMap<>();
        boolean configured = false;
        try {
            for (int i = 1; i < args.length; i++) {
                String flag = args[i];
                if (flag.equals("-h") || flag.equals("--help")) {
                    out.print(USAGE);
                    return 0;
                }
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(flag + " needs a value");
                }
                String value = args[++i];
                configured |= !flag.equals("--limit");
                switch (flag) {
                    case "--read-idle":
                        timeouts.readIdle(duration(flag, value));
                        break;
                    case "--all-idle":
                        timeouts.allIdle(duration(flag, value));
                        break;
                    case "--write-stall":
                        timeouts.writeStall(duration(flag, value));
                        break;
                    case "--tick":
                        settings.tickResolution(duration(flag, value));
                        break;
                    case "--keepalive": {
                        String[] parts = value.split(",", -1);
                        if (parts.length != 3) {
                            throw new IllegalArgumentException("--keepalive needs idle,interval,count: " + value);
                        }
                        settings.tcpKeepAlive(duration(flag, parts[0]), duration(flag, parts[1]),
                                count(flag, parts[2]));
                        break;
                    }
                    case "--heartbeat": {
                        String[] parts = value.split(",", -1);
                        if (parts.length != 3) {
                            throw new IllegalArgumentException("--heartbeat needs interval,timeout,maxMissed: "
                                    + value);
                        }
                        settings.heartbeat(duration(flag, parts[0]), duration(flag, parts[1]),
                                count(flag, parts[2]));
                        break;
                    }
                    case "--user-timeout":
                        settings.tcpUserTimeout(duration(flag, value));
                        break;
                    case "--limit":
                        limit(value, limits);
                        break;
                    default:
                        throw new IllegalArgumentException("unknown option: " + flag);
                }
            }
            DetectionSettings setup = settings.timeouts(timeouts.build()).build();
            out.print(configured ? HostDoctor.examine(setup, limits, files) : HostDoctor.examineHost(limits, files));
            return 0;
        } catch (IllegalArgumentException | IllegalStateException e) {
            err.println(e.getMessage());
            err.print(USAGE);
            return 2;
        }
    }

    private static void limit(String value, LinkedHashMap<String, Duration> limits) {
        int eq = value.indexOf('=');
        if (eq > 0) {
            limits.put(value.substring(0, eq), duration("--limit", value.substring(eq + 1)));
            return;
        }
        for (IdleLimit l : IdleLimit.values()) {
            if (l.name().replace('_', '-').equalsIgnoreCase(value)) {
                limits.put(l.label(), l.timeout());
                return;
            }
        }
        throw new IllegalArgumentException("--limit must be aws-nlb, azure-lb, gcp or name=duration: " + value);
    }

    private static int count(String flag, String value) {
        try {
            return Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(flag + " count must be a number: " + value);
        }
    }

    /** Parses {@code 30s}, {@code 500ms}, {@code 5m}, {@code 1h}, or ISO-8601 such as {@code PT30S}. */
    static Duration duration(String flag, String value) {
        String v = value.trim().toLowerCase(Locale.ROOT);
        Matcher m = SIMPLE.matcher(v);
        if (m.matches()) {
            long n = Long.parseLong(m.group(1));
            switch (m.group(2)) {
                case "ms":
                    return Duration.ofMillis(n);
                case "s":
                    return Duration.ofSeconds(n);
                case "m":
                    return Duration.ofMinutes(n);
                default:
                    return Duration.ofHours(n);
            }
        }
        try {
            return Duration.parse(value.trim());
        } catch (DateTimeParseException e) {
            throw new IllegalArgumentException(flag + " must be a duration such as 30s, 500ms, 5m or PT30S: " + value);
        }
    }
}
