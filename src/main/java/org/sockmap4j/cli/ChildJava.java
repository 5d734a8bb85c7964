package org.sockmap4j.cli;

import java.util.List;

/** The command line that runs a main class of this jar in a new JVM (the same java and class path). */
final class ChildJava {
    private ChildJava() {}

    static List<String> command(Class<?> main) {
        String javaBin = ProcessHandle.current().info().command().orElse("java");
        return List.of(javaBin, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                main.getName());
    }
}
