package org.sockmap4j.cli;

import java.io.PrintWriter;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code sockmap}: Linux SOCKMAP from the command line. Exit codes: 0 ok, 1 error, 2 usage. */
@Command(name = "sockmap", mixinStandardHelpOptions = true, scope = CommandLine.ScopeType.INHERIT,
        versionProvider = Main.Version.class,
        description = "Linux SOCKMAP/SOCKHASH: probe the kernel, bypass the TCP stack between local sockets, "
                + "police egress, proxy, inspect maps, and measure.",
        subcommands = {ProbeCommand.class, BypassCommand.class, PolicyCommand.class, ProxyCommand.class,
                MapCommand.class, BenchCommand.class, CommandLine.HelpCommand.class})
public final class Main {
    /** Exit code for a failure the user can act on. */
    static final int ERROR = 1;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the tool and returns its exit code (tests call this in-process). */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler(Main::onError);
        cl.setParameterExceptionHandler(Main::onUsageError);
        return cl.execute(args);
    }

    /**
     * A usage error: the error and one line pointing at {@code --help}, exit 2 (picocli's default
     * prints the whole usage after the error, 10-20 lines in which the error gets lost).
     */
    private static int onUsageError(CommandLine.ParameterException e, String[] args) {
        CommandLine cmd = e.getCommandLine();
        PrintWriter err = cmd.getErr();
        String name = cmd.getCommandSpec().qualifiedName();
        err.println(name + ": " + e.getMessage());
        CommandLine.UnmatchedArgumentException.printSuggestions(e, err);
        err.println("Try '" + name + " --help' for more information.");
        err.flush();
        return cmd.getCommandSpec().exitCodeOnInvalidInput();
    }

    private static int onError(Exception e, CommandLine cmd, CommandLine.ParseResult parsed) {
        PrintWriter err = cmd.getErr();
        if (e instanceof LatencyBench.Interrupted) {
            err.println(cmd.getCommandSpec().qualifiedName() + ": interrupted; everything torn down");
            err.flush();
            return 130;
        }
        err.println(cmd.getCommandSpec().qualifiedName() + ": " + Errors.describe(e));
        if (cmd.getParseResult().hasMatchedOption("--verbose") || Boolean.getBoolean("sockmap.verbose")) {
            e.printStackTrace(err);
        }
        err.flush();
        return ERROR;
    }

    /** The version from the jar's manifest, if any. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"sockmap " + (v == null ? "(development build)" : v)};
        }
    }
}
