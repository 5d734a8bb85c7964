package org.sockmap4j.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Reads the rounds of {@code scripts/bench-ops.sh} from one directory (C baseline
 * {@code c-ROUND-N.txt} and JMH {@code jmh-ROUND-N.json} files, one pair per operation and round)
 * and prints one table: operation, Java and C time per operation (medians over rounds), the
 * median of the rounds' Java/C ratios and their range, and Java bytes allocated per operation; the
 * last line is {@code worst ratio: X.XX}. A ratio is taken only within a round, where C and Java
 * ran one right after the other.
 */
public final class BenchReport {
    private BenchReport() {}

    public static void main(String[] args) throws IOException {
        System.out.print(report(Path.of(args[0])));
    }

    /** The table for the result files in {@code dir}. */
    static String report(Path dir) throws IOException {
        Map<String, Map<Integer, Double>> c = new TreeMap<>();
        Map<String, String> units = new LinkedHashMap<>();
        Map<String, Map<Integer, Double>> java = new TreeMap<>();
        Map<String, List<Double>> alloc = new TreeMap<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.sorted(BenchReport::byRoundThenIndex).toList()) {
                String n = f.getFileName().toString();
                if (n.startsWith("c-") && n.endsWith(".txt")) {
                    int round = round(n);
                    for (String line : Files.readAllLines(f)) {
                        String[] p = line.split(" ");
                        if (p.length == 4 && p[0].equals("op")) {
                            c.computeIfAbsent(p[1], k -> new TreeMap<>()).put(round, Double.parseDouble(p[2]));
                            units.put(p[1], p[3]);
                        }
                    }
                } else if (n.startsWith("jmh-") && n.endsWith(".json")) {
                    readJmh(Files.readString(f), round(n), java, alloc);
                }
            }
        }
        StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, "%-24s %12s %12s %7s %13s %14s%n", "operation", "Java", "C", "ratio",
                "ratio range", "Java B/op"));
        double worst = 0;
        int rounds = 0;
        for (String op : units.keySet()) {
            Map<Integer, Double> js = java.getOrDefault(op, Map.of());
            Map<Integer, Double> cs = c.get(op);
            List<Double> ratios = new ArrayList<>();
            for (Map.Entry<Integer, Double> e : cs.entrySet()) {
                Double j = js.get(e.getKey());
                if (j != null) {
                    ratios.add(j / e.getValue());
                }
            }
            rounds = Math.max(rounds, ratios.size());
            Double j = median(new ArrayList<>(js.values()));
            Double cc = median(new ArrayList<>(cs.values()));
            Double ratio = median(ratios);
            Double a = median(alloc.get(op));
            String unit = units.get(op);
            if (ratio != null) {
                worst = Math.max(worst, ratio);
            }
            out.append(String.format(Locale.ROOT, "%-24s %9.1f %-2s %9.1f %-2s %7.2f %13s %14s%n", op,
                    j == null ? Double.NaN : j, unit, cc, unit, ratio == null ? Double.NaN : ratio,
                    ratios.isEmpty() ? "-" : String.format(Locale.ROOT, "%.2f-%.2f", min(ratios), max(ratios)),
                    a == null ? "-" : String.format(Locale.ROOT, "%.1f", a)));
        }
        out.append(String.format(Locale.ROOT, "rounds: %d (C and Java paired per operation and round; medians)%n",
                rounds));
        out.append(String.format(Locale.ROOT, "worst ratio: %.2f%n", worst));
        return out.toString();
    }

    /** The round in {@code c-ROUND-N.txt} or {@code jmh-ROUND-N.json}. */
    private static int round(String fileName) {
        String rest = fileName.substring(fileName.indexOf('-') + 1);
        return Integer.parseInt(rest.split("[-.]")[0]);
    }

    /** Files in the order they were written: by round, then by the operation's index, C before JMH. */
    private static int byRoundThenIndex(Path a, Path b) {
        String x = a.getFileName().toString();
        String y = b.getFileName().toString();
        int[] p = numbers(x);
        int[] q = numbers(y);
        for (int i = 0; i < Math.min(p.length, q.length); i++) {
            if (p[i] != q[i]) {
                return Integer.compare(p[i], q[i]);
            }
        }
        return x.compareTo(y);
    }

    /** The numbers in a file name: {@code c-2-13.txt} gives {2, 13}. */
    private static int[] numbers(String fileName) {
        return Arrays.stream(fileName.split("[^0-9]+")).filter(t -> !t.isEmpty())
                .mapToInt(Integer::parseInt).toArray();
    }

    private static double min(List<Double> v) {
        return v.stream().mapToDouble(Double::doubleValue).min().orElseThrow();
    }

    private static double max(List<Double> v) {
        return v.stream().mapToDouble(Double::doubleValue).max().orElseThrow();
    }

    private static Double median(List<Double> v) {
        if (v == null || v.isEmpty()) {
            return null;
        }
        List<Double> s = new ArrayList<>(v);
        s.sort(null);
        int n = s.size();
        return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
    }

    /** Maps JMH results to the C names: MapOpsBenchmark.put + map=sockmap -> put/sockmap. */
    @SuppressWarnings("unchecked")
    private static void readJmh(String json, int round, Map<String, Map<Integer, Double>> time,
            Map<String, List<Double>> alloc) {
        List<Object> results = (List<Object>) new MiniJson(json).value();
        for (Object o : results) {
            Map<String, Object> r = (Map<String, Object>) o;
            String bench = (String) r.get("benchmark");
            String method = bench.substring(bench.lastIndexOf('.') + 1);
            Map<String, Object> params = (Map<String, Object>) r.get("params");
            String op = params != null && params.containsKey("map") ? method + "/" + params.get("map") : method;
            Map<String, Object> primary = (Map<String, Object>) r.get("primaryMetric");
            time.computeIfAbsent(op, k -> new TreeMap<>()).put(round, ((Number) primary.get("score")).doubleValue());
            Map<String, Object> secondary = (Map<String, Object>) r.get("secondaryMetrics");
            if (secondary != null && secondary.get("gc.alloc.rate.norm") instanceof Map<?, ?> m) {
                alloc.computeIfAbsent(op, k -> new ArrayList<>()).add(((Number) m.get("score")).doubleValue());
            }
        }
    }

    /** Just enough JSON for JMH's result file. */
    static final class MiniJson {
        private final String s;
        private int i;

        MiniJson(String s) {
            this.s = s;
        }

        Object value() {
            ws();
            char ch = s.charAt(i);
            return switch (ch) {
                case '{' -> object();
                case '[' -> array();
                case '"' -> string();
                case 't', 'f', 'n' -> literal();
                case 'N' -> {
                    i += 3;
                    yield Double.NaN;
                }
                default -> number();
            };
        }

        private void ws() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
        }

        private Map<String, Object> object() {
            Map<String, Object> m = new LinkedHashMap<>();
            i++;
            ws();
            if (s.charAt(i) == '}') {
                i++;
                return m;
            }
            while (true) {
                ws();
                String k = string();
                ws();
                i++; // ':'
                m.put(k, value());
                ws();
                if (s.charAt(i++) == '}') {
                    return m;
                }
            }
        }

        private List<Object> array() {
            List<Object> l = new ArrayList<>();
            i++;
            ws();
            if (s.charAt(i) == ']') {
                i++;
                return l;
            }
            while (true) {
                l.add(value());
                ws();
                if (s.charAt(i++) == ']') {
                    return l;
                }
            }
        }

        private String string() {
            StringBuilder sb = new StringBuilder();
            i++;
            while (s.charAt(i) != '"') {
                char ch = s.charAt(i++);
                if (ch == '\\') {
                    char e = s.charAt(i++);
                    sb.append(switch (e) {
                        case 'n' -> '\n';
                        case 't' -> '\t';
                        case 'u' -> {
                            char u = (char) Integer.parseInt(s.substring(i, i + 4), 16);
                            i += 4;
                            yield u;
                        }
                        default -> e;
                    });
                } else {
                    sb.append(ch);
                }
            }
            i++;
            return sb.toString();
        }

        private Object literal() {
            if (s.startsWith("true", i)) {
                i += 4;
                return Boolean.TRUE;
            }
            if (s.startsWith("false", i)) {
                i += 5;
                return Boolean.FALSE;
            }
            i += 4;
            return null;
        }

        private Object number() {
            int start = i;
            while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) {
                i++;
            }
            String n = s.substring(start, i);
            return n.equals("NaN") ? Double.NaN : Double.parseDouble(n);
        }
    }
}
