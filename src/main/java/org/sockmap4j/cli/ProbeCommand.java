package org.sockmap4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;

import org.sockmap4j.KernelFeatures;
import org.sockmap4j.KernelFeatures.Feature;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code sockmap probe}: what this kernel supports. */
@Command(name = "probe", description = "Show which socket-map features this kernel supports (by probing, "
        + "not by version).")
final class ProbeCommand implements Callable<Integer> {
    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Option(names = "--verbose", description = "Print stack traces on errors.")
    boolean verbose;

    @Override
    public Integer call() throws IOException {
        Privileges.require("sockmap probe");
        KernelFeatures k = KernelFeatures.probe();
        String release = Files.readString(Path.of("/proc/sys/kernel/osrelease")).strip();
        if (json) {
            StringBuilder sb = new StringBuilder("{\"kernel\":\"").append(Json.escape(release)).append("\",\"features\":{");
            boolean first = true;
            for (Map.Entry<Feature, KernelFeatures.Status> e : k.all().entrySet()) {
                sb.append(first ? "" : ",").append('"').append(e.getKey().name().toLowerCase()).append("\":{")
                        .append("\"present\":").append(e.getValue().present())
                        .append(",\"since\":\"").append(e.getKey().since()).append('"')
                        .append(",\"description\":\"").append(Json.escape(e.getKey().description())).append('"')
                        .append(",\"detail\":\"").append(Json.escape(e.getValue().detail())).append("\"}");
                first = false;
            }
            System.out.println(sb.append("}}"));
        } else {
            System.out.println("kernel " + release);
            System.out.printf("%-28s %-4s %-6s %s%n", "FEATURE", "OK", "SINCE", "DETAIL");
            for (Map.Entry<Feature, KernelFeatures.Status> e : k.all().entrySet()) {
                System.out.printf("%-28s %-4s %-6s %s%n", e.getKey().name().toLowerCase(),
                        e.getValue().present() ? "yes" : "no", e.getKey().since(), e.getValue().detail());
            }
        }
        return 0;
    }
}
