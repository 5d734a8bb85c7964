import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Prints the README's "features by kernel" table (Markdown) from {@code sockmap probe --json}
 * outputs: one column per file, in the order given, one row per feature. A cell is "yes", or
 * "no" with a footnote-free short reason where the probe could not try (e.g. no vsock transport).
 *
 * <p>Usage: {@code java scripts/vmtest/KernelTable.java PROBE_JSON...}
 */
public class KernelTable {
    private static final Pattern KERNEL = Pattern.compile("\"kernel\":\"([^\"]*)\"");
    private static final Pattern FEATURE = Pattern.compile(
            "\"([a-z0-9_]+)\":\\{\"present\":(true|false),\"since\":\"([^\"]*)\",\"description\":\"((?:[^\"\\\\]|\\\\.)*)\",\"detail\":\"((?:[^\"\\\\]|\\\\.)*)\"\\}");

    record Cell(boolean present, String detail) {}

    public static void main(String[] args) throws Exception {
        List<String> kernels = new ArrayList<>();
        Map<String, String[]> rows = new LinkedHashMap<>(); // feature -> since, description
        List<Map<String, Cell>> columns = new ArrayList<>();
        for (String a : args) {
            String json = Files.readString(Path.of(a));
            Matcher k = KERNEL.matcher(json);
            if (!k.find()) {
                throw new IllegalArgumentException(a + ": no \"kernel\"");
            }
            kernels.add(k.group(1));
            Map<String, Cell> col = new LinkedHashMap<>();
            Matcher f = FEATURE.matcher(json);
            while (f.find()) {
                rows.putIfAbsent(f.group(1), new String[] {f.group(3), f.group(4).replace("\\\"", "\"")});
                col.put(f.group(1), new Cell(Boolean.parseBoolean(f.group(2)), f.group(5)));
            }
            columns.add(col);
        }
        StringBuilder out = new StringBuilder("| feature | since |");
        kernels.forEach(k -> out.append(' ').append(k).append(" |"));
        out.append("\n| --- | --- |");
        kernels.forEach(k -> out.append(" --- |"));
        out.append('\n');
        rows.forEach((name, meta) -> {
            out.append("| `").append(name).append("` | ").append(meta[0]).append(" |");
            for (Map<String, Cell> col : columns) {
                Cell c = col.get(name);
                out.append(' ').append(c == null ? "?" : c.present() ? "yes" : "no" + why(c.detail())).append(" |");
            }
            out.append('\n');
        });
        System.out.print(out);
    }

    /** A short reason for a "no" that is not simply the kernel's refusal. */
    private static String why(String detail) {
        if (detail.startsWith("EPERM")) {
            return " (refused: lockdown)";
        }
        if (detail.startsWith("no local vsock transport")) {
            return " (untested: no vsock_loopback)";
        }
        return "";
    }
}
