// The java compile stage's bootstrap: a warm javac, run by the JVM's source launcher as
// `java <jvm options> codering-javac.java codering-javac.java`. The launcher compiles this
// file with javac, in this JVM: by the time the member waits, javac's classes are loaded and
// have run once. (One more compile here would save the request 8 ms and cost every member
// 200 ms of CPU: not done.)
//
// Header on stdin: "<length>\n", then the compile's argv joined by NUL. Its first element
// (the javac program) and the launcher's -J options (this JVM's own, given at its start)
// are dropped; the rest goes to com.sun.tools.javac.Main.compile, as `javac` does: the same
// diagnostics on stderr, the same class files, the same exit status.
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

public class CoderingJavac {
    public static void main(String[] args) throws IOException {
        Files.delete(Path.of(args[0])); // this source: gone before any request comes
        // As under the javac launcher: with no -cp and no CLASSPATH, the class path is ".".
        System.setProperty("application.home", System.getProperty("java.home"));

        List<String> javacArgs = new ArrayList<>();
        String[] argv = readArgv(new FileInputStream(FileDescriptor.in));
        for (int i = 1; i < argv.length; i++) {
            if (!argv[i].startsWith("-J")) javacArgs.add(argv[i]);
        }
        System.exit(com.sun.tools.javac.Main.compile(javacArgs.toArray(new String[0])));
    }

    /** "<length>\n", then that many bytes: the arguments joined by NUL. */
    private static String[] readArgv(InputStream in) throws IOException {
        int length = 0;
        for (int c = in.read(); c != '\n'; c = in.read()) {
            if (c < '0' || c > '9') System.exit(111); // no request came: the worker dropped us
            length = length * 10 + (c - '0');
        }
        byte[] data = new byte[length];
        for (int got = 0, n; got < length; got += n) { // not readNBytes: it seeks, and a pipe cannot
            n = in.read(data, got, length - got);
            if (n < 0) System.exit(111);
        }
        return new String(data, StandardCharsets.UTF_8).split("\0", -1);
    }
}
