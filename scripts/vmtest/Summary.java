import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

/**
 * Reads what a vmtest guest brought back and prints, for scripts/vmtest.sh:
 * <pre>
 * counts PASSED FAILED SKIPPED BADSKIPS      (first line, for the script to read)
 * failed CLASS > TEST: FIRST LINES OF THE MESSAGE
 * skipped CLASS > TEST: REASON
 * </pre>
 * and writes the time per test class (from the XML reports), slowest first, to a file.
 *
 * <p>The counts are the console launcher's own: its closing table in the console log (PASSED =
 * tests successful; FAILED = tests failed + containers failed, e.g. a class whose afterAll check
 * failed counts once, where the legacy XML report marks every test of the class failed; SKIPPED =
 * tests skipped or aborted + containers skipped or aborted). If the JVM died before that table,
 * they are counted from the test feed ("JUnit Jupiter > Class > test() :: FAILED") and the first
 * word is {@code counts-from-feed}. The failed and skipped lists come from the feed. BADSKIPS
 * counts skips whose reason does not start with "kernel lacks": scripts/test.sh fails on those
 * as root, and so does vmtest.sh.
 *
 * <p>Usage: {@code java scripts/vmtest/Summary.java CONSOLE_LOG REPORTS_DIR CLASS_TIMES_FILE}
 */
public class Summary {

    public static void main(String[] args) throws Exception {
        List<String> console = Files.exists(Path.of(args[0])) ? Files.readAllLines(Path.of(args[0])) : List.of();
        feed(console, System.out);
        classTimes(Path.of(args[1]), Path.of(args[2]));
    }

    /** Writes the seconds per test class, summed over its test cases in the XML reports. */
    private static void classTimes(Path dir, Path target) throws Exception {
        List<Path> files;
        try (Stream<Path> s = Files.exists(dir) ? Files.list(dir) : Stream.empty()) {
            files = s.filter(p -> p.getFileName().toString().matches("TEST-.*\\.xml")).sorted().toList();
        }
        var factory = DocumentBuilderFactory.newInstance();
        Map<String, double[]> classes = new TreeMap<>(); // class -> {seconds, tests}
        for (Path f : files) {
            Element root = factory.newDocumentBuilder().parse(f.toFile()).getDocumentElement();
            NodeList cases = root.getElementsByTagName("testcase");
            for (int i = 0; i < cases.getLength(); i++) {
                Element c = (Element) cases.item(i);
                double[] t = classes.computeIfAbsent(c.getAttribute("classname"), k -> new double[2]);
                t[0] += parse(c.getAttribute("time"));
                t[1]++;
            }
        }
        StringBuilder times = new StringBuilder("seconds  tests  class\n");
        double total = 0;
        int tests = 0;
        for (var e : classes.entrySet().stream()
                .sorted((a, b) -> Double.compare(b.getValue()[0], a.getValue()[0])).toList()) {
            times.append(String.format("%7.1f  %5d  %s%n", e.getValue()[0], (int) e.getValue()[1], e.getKey()));
            total += e.getValue()[0];
            tests += (int) e.getValue()[1];
        }
        times.append(String.format("%7.1f  %5d  (all classes)%n", total, tests));
        if (files.isEmpty()) {
            times.append("(no XML report)\n");
        }
        Files.writeString(target, times);
    }

    /** The counts (closing table, else the feed) and the failed and skipped tests of the feed. */
    private static void feed(List<String> lines, PrintStream out) {
        var feed = java.util.regex.Pattern.compile("^JUnit Jupiter > (.+) :: (SUCCESSFUL|FAILED|ABORTED|SKIPPED)(.*)$");
        int passed = 0, failed = 0, skipped = 0, badSkips = 0;
        List<String> details = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            var m = feed.matcher(lines.get(i).strip());
            if (!m.matches()) {
                continue;
            }
            String test = m.group(1);
            // the exception's lines up to the stack trace
            StringBuilder msg = new StringBuilder();
            for (int j = i + 1; j < lines.size() && j < i + 8; j++) {
                String l = lines.get(j).strip();
                if (l.startsWith("at ") || feed.matcher(l).matches() || l.startsWith("JUnit Jupiter >")) {
                    break;
                }
                msg.append(msg.isEmpty() ? "" : " ").append(l);
            }
            String next = shorten(msg.toString());
            switch (m.group(2)) {
                case "SUCCESSFUL" -> passed++;
                case "FAILED" -> {
                    failed++;
                    details.add("failed " + test + ": " + next);
                }
                default -> {
                    skipped++;
                    String why = m.group(3).replaceFirst("^\\s*", "");
                    if (why.isEmpty()) {
                        why = next.replaceFirst("^[\\w.$]+: ", "");
                    }
                    if (!why.startsWith("kernel lacks")) {
                        badSkips++;
                    }
                    details.add("skipped " + test + ": " + why);
                }
            }
        }
        Map<String, Integer> table = new LinkedHashMap<>();
        var row = java.util.regex.Pattern.compile("^\\[\\s*(\\d+) (tests|containers) (\\w+)\\s*\\]$");
        for (String l : lines) {
            var m = row.matcher(l.strip());
            if (m.matches()) {
                table.put(m.group(2) + " " + m.group(3), Integer.parseInt(m.group(1)));
            }
        }
        if (table.containsKey("tests successful")) {
            passed = table.get("tests successful");
            failed = table.getOrDefault("tests failed", 0) + table.getOrDefault("containers failed", 0);
            skipped = table.getOrDefault("tests skipped", 0) + table.getOrDefault("tests aborted", 0)
                    + table.getOrDefault("containers skipped", 0) + table.getOrDefault("containers aborted", 0);
            out.println("counts " + passed + " " + failed + " " + skipped + " " + badSkips);
        } else {
            out.println("counts-from-feed " + passed + " " + failed + " " + skipped + " " + badSkips);
        }
        details.stream().filter(d -> d.startsWith("failed")).forEach(out::println);
        details.stream().filter(d -> d.startsWith("skipped")).forEach(out::println);
    }

    private static double parse(String s) {
        try {
            return Double.parseDouble(s.replace(",", ""));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** The first lines of a message, joined, at most 240 characters (AssertJ's start with a newline). */
    private static String firstLine(String s) {
        StringBuilder b = new StringBuilder();
        for (String l : s.strip().split("\n")) {
            if (l.strip().startsWith("at ") || b.length() > 240) {
                break;
            }
            if (!l.isBlank()) {
                b.append(b.isEmpty() ? "" : " ").append(l.strip());
            }
        }
        return shorten(b.toString());
    }

    private static String shorten(String s) {
        return s.length() <= 240 ? s : s.substring(0, 237) + "...";
    }
}
