package org.sockmap4j.badinput;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;

import org.sockmap4j.BpfException;

/**
 * What one scenario did in a child JVM, sent to the test as one line on standard output:
 * {@code OUTCOME name type errno operation object hint message}, tab-separated, with tabs,
 * newlines and backslashes escaped. {@code type} is the exception's simple class name, or
 * {@code ok} when the scenario returned normally (its result then is the message).
 *
 * @param name      the scenario
 * @param type      the simple class name of what it threw, or "ok"
 * @param errno     the errno name of a BpfException, else ""
 * @param operation a BpfException's operation, else ""
 * @param object    a BpfException's object, else ""
 * @param hint      a BpfException's hint, else ""
 * @param message   the exception's message, or the scenario's result
 */
record Outcome(String name, String type, String errno, String operation, String object, String hint,
        String message) {
    private static final String PREFIX = "OUTCOME\t";

    /** Runs {@code scenario} and prints its outcome line (in a child JVM). */
    static void report(String name, Callable<String> scenario) {
        Outcome o;
        try {
            o = new Outcome(name, "ok", "", "", "", "", String.valueOf(scenario.call()));
        } catch (BpfException e) {
            o = new Outcome(name, e.getClass().getSimpleName(), e.errno().name(), e.operation(), e.object(), e.hint(),
                    e.getMessage());
        } catch (Exception e) {
            o = new Outcome(name, e.getClass().getSimpleName(), "", "", "", "", String.valueOf(e.getMessage()));
        }
        System.out.println(PREFIX + String.join("\t", esc(o.name), esc(o.type), esc(o.errno), esc(o.operation),
                esc(o.object), esc(o.hint), esc(o.message)));
        System.out.flush();
    }

    /** The outcomes in a child's standard output, by scenario name. */
    static Map<String, Outcome> parse(String stdout) {
        Map<String, Outcome> out = new HashMap<>();
        for (String line : stdout.lines().toList()) {
            if (line.startsWith(PREFIX)) {
                String[] f = line.substring(PREFIX.length()).split("\t", -1);
                Outcome o = new Outcome(unesc(f[0]), unesc(f[1]), unesc(f[2]), unesc(f[3]), unesc(f[4]), unesc(f[5]),
                        unesc(f[6]));
                out.put(o.name, o);
            }
        }
        return out;
    }

    private static String esc(String s) {
        return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n");
    }

    private static String unesc(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length()) {
                char n = s.charAt(++i);
                b.append(n == 't' ? '\t' : n == 'n' ? '\n' : n);
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }
}
