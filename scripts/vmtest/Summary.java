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
 * Reads the JUnit XML reports that a vmtest guest brought back and prints, for scripts/vmtest.sh:
 * <pre>
 * counts PASSED FAILED SKIPPED BADSKIPS      (first line, for the script to read)
 * failed CLASS.METHOD: FIRST LINE OF THE MESSAGE
 * skipped CLASS.METHOD: REASON
 * </pre>
 * and writes the time per test class, slowest first, to the file given as second argument.
 * BADSKIPS counts skips whose reason does not start with "kernel lacks": scripts/test.sh fails
 * on those as root, and so does vmtest.sh.
 *
 * <p>When there is no XML report (the test JVM died before writing it), the counts come from the
 * launcher's test feed in the console log instead ("JUnit Jupiter > Class > test() :: FAILED"),
 * and the first line says {@code counts-from-console} instead of {@code counts}.
 *
 * <p>Usage: {@code java scripts/vmtest/Summary.java REPORTS_DIR CLASS_TIMES_FILE CONSOLE_LOG}
 */
public class Summary {

    record Outcome(String test, String kind, String message) {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        List<Path> files;
        try (Stream<Path> s = Files.exists(dir) ? Files.list(dir) : Stream.empty()) {
            files = s.filter(p -> p.getFileName().toString().matches("TEST-.*\\.xml")).sorted().toList();
        }
        var factory = DocumentBuilderFactory.newInstance();
        int passed = 0, failed = 0, skipped = 0, badSkips = 0;
        List<Outcome> outcomes = new ArrayList<>();
        Map<String, double[]> classes = new TreeMap<>(); // class -> {seconds, tests}
        for (Path f : files) {
            Element root = factory.newDocumentBuilder().parse(f.toFile()).getDocumentElement();
            NodeList cases = root.getElementsByTagName("testcase");
            for (int i = 0; i < cases.getLength(); i++) {
                Element c = (Element) cases.item(i);
                String cls = c.getAttribute("classname");
                String test = simple(cls) + "." + c.getAttribute("name");
                double[] t = classes.computeIfAbsent(cls, k -> new double[2]);
                t[0] += parse(c.getAttribute("time"));
                t[1]++;
                Element bad = first(c, "failure");
                if (bad == null) {
                    bad = first(c, "error");
                }
                Element skip = first(c, "skipped");
                if (bad != null) {
                    failed++;
                    outcomes.add(new Outcome(test, "failed", message(bad)));
                } else if (skip != null) {
                    skipped++;
                    String why = reason(skip);
                    if (!why.startsWith("kernel lacks")) {
                        badSkips++;
                    }
                    outcomes.add(new Outcome(test, "skipped", why));
                } else {
                    passed++;
                }
            }
        }
        PrintStream out = System.out;
        if (files.isEmpty() && args.length > 2 && Files.exists(Path.of(args[2]))) {
            fromConsole(Files.readAllLines(Path.of(args[2])), out);
            return;
        }
        out.println("counts " + passed + " " + failed + " " + skipped + " " + badSkips);
        outcomes.stream().filter(o -> o.kind.equals("failed")).forEach(o -> out.println("failed " + o.test + ": " + o.message));
        outcomes.stream().filter(o -> o.kind.equals("skipped")).forEach(o -> out.println("skipped " + o.test + ": " + o.message));

        Map<String, double[]> sorted = new LinkedHashMap<>();
        classes.entrySet().stream().sorted((a, b) -> Double.compare(b.getValue()[0], a.getValue()[0]))
                .forEach(e -> sorted.put(e.getKey(), e.getValue()));
        StringBuilder times = new StringBuilder("seconds  tests  class\n");
        double total = 0;
        for (var e : sorted.entrySet()) {
            times.append(String.format("%7.1f  %5d  %s%n", e.getValue()[0], (int) e.getValue()[1], e.getKey()));
            total += e.getValue()[0];
        }
        times.append(String.format("%7.1f  %5d  (all classes)%n", total, passed + failed + skipped));
        try {
            Files.writeString(Path.of(args[1]), times);
        } catch (IOException e) {
            System.err.println("Summary: cannot write " + args[1] + ": " + e);
        }
    }

    /** Counts from the console's test feed, for when the JVM died before writing the XML. */
    private static void fromConsole(List<String> lines, PrintStream out) {
        var feed = java.util.regex.Pattern.compile("^JUnit Jupiter > (.+) :: (SUCCESSFUL|FAILED|ABORTED|SKIPPED)(.*)$");
        int passed = 0, failed = 0, skipped = 0, badSkips = 0;
        List<String> details = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            var m = feed.matcher(lines.get(i).strip());
            if (!m.matches()) {
                continue;
            }
            String test = m.group(1).replace(" > ", ".");
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
        out.println("counts-from-console " + passed + " " + failed + " " + skipped + " " + badSkips);
        details.stream().filter(d -> d.startsWith("failed")).forEach(out::println);
        details.stream().filter(d -> d.startsWith("skipped")).forEach(out::println);
    }

    private static String simple(String cls) {
        return cls.substring(cls.lastIndexOf('.') + 1);
    }

    private static double parse(String s) {
        try {
            return Double.parseDouble(s.replace(",", ""));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static Element first(Element parent, String tag) {
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element e && e.getTagName().equals(tag)) {
                return e;
            }
        }
        return null;
    }

    /** "Type: first line of the message", from the message attribute or else the body. */
    private static String message(Element e) {
        String type = e.getAttribute("type");
        String msg = e.getAttribute("message");
        if (msg.isBlank()) {
            msg = firstLine(e.getTextContent());
            if (!type.isEmpty() && msg.startsWith(type)) {
                return msg;
            }
        }
        msg = firstLine(msg);
        return type.isEmpty() ? msg : type + ": " + msg;
    }

    /** The reason of a skip: the message attribute, or the exception message in the body. */
    private static String reason(Element e) {
        String msg = e.getAttribute("message");
        if (msg.isBlank()) {
            msg = firstLine(e.getTextContent());
            // "org.opentest4j.TestAbortedException: kernel lacks ..." -> "kernel lacks ..."
            int colon = msg.indexOf(": ");
            if (colon > 0 && msg.substring(0, colon).matches("[\\w.$]+")) {
                msg = msg.substring(colon + 2);
            }
        }
        return firstLine(msg);
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
