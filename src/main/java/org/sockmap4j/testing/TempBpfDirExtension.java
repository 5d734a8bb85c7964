package org.sockmap4j.testing;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * Injects a fresh {@link TempBpfDir} into any test, lifecycle-method or constructor parameter of
 * that type, and closes it after the test (or, for one resolved for the whole class, after the
 * class) whether the test passed or not.
 *
 * <pre>{@code
 * @Privileged
 * @ExtendWith(TempBpfDirExtension.class)
 * class PinTest {
 *     @Test void pins(TempBpfDir dir) { ... dir.resolve("map") ... }
 * }
 * }</pre>
 */
public final class TempBpfDirExtension implements ParameterResolver, AfterEachCallback {

    private static final ExtensionContext.Namespace NAMESPACE =
            ExtensionContext.Namespace.create(TempBpfDirExtension.class);

    /** Creates the extension; JUnit does this through {@code @ExtendWith}. */
    public TempBpfDirExtension() {
    }

    @Override
    public boolean supportsParameter(ParameterContext parameterContext, ExtensionContext extensionContext) {
        return parameterContext.getParameter().getType() == TempBpfDir.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameterContext, ExtensionContext extensionContext) {
        TempBpfDir dir = TempBpfDir.create();
        dirs(extensionContext).add(dir);
        return dir;
    }

    @Override
    public void afterEach(ExtensionContext context) {
        Dirs dirs = context.getStore(NAMESPACE).get(context.getUniqueId(), Dirs.class);
        if (dirs != null) {
            dirs.close();
        }
    }

    private static Dirs dirs(ExtensionContext context) {
        // Keyed by the context's own id: Store.get would otherwise also see the parent's entry.
        // JUnit closes AutoCloseable store values when their context ends (class-level ones too).
        return context.getStore(NAMESPACE).getOrComputeIfAbsent(context.getUniqueId(), k -> new Dirs(), Dirs.class);
    }

    /** The directories handed out in one extension context. */
    static final class Dirs implements AutoCloseable {
        private final List<TempBpfDir> dirs = new ArrayList<>();

        synchronized void add(TempBpfDir dir) {
            dirs.add(dir);
        }

        @Override
        public synchronized void close() {
            IllegalStateException failure = null;
            for (TempBpfDir dir : dirs.reversed()) {
                try {
                    dir.close();
                } catch (IllegalStateException e) {
                    if (failure == null) {
                        failure = e;
                    } else {
                        failure.addSuppressed(e);
                    }
                }
            }
            dirs.clear();
            if (failure != null) {
                throw failure;
            }
        }
    }
}
