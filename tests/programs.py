"""Small programs in each runtime, used by the runtime and limit tests."""

from __future__ import annotations

# Prints its first stdin line upper-cased, then its arguments joined by commas.
ECHO = {
    "bash": 'read -r line; echo "${line^^}"; (IFS=,; echo "$*")',
    "c": "#include <stdio.h>\n#include <ctype.h>\nint main(int c, char **v) {\n char b[256] = {0};\n"
    " if (fgets(b, sizeof b, stdin)) for (char *p = b; *p; p++) putchar(toupper(*p));\n"
    ' for (int i = 1; i < c; i++) printf(i > 1 ? ",%s" : "%s", v[i]);\n puts("");\n}\n',
    "cpp": "#include <iostream>\n#include <string>\n#include <cctype>\nint main(int c, char **v) {\n"
    " std::string s; std::getline(std::cin, s); for (auto &ch : s) ch = std::toupper(ch);\n"
    ' std::cout << s << "\\n"; for (int i = 1; i < c; i++) std::cout << (i > 1 ? "," : "") << v[i];\n'
    ' std::cout << "\\n";\n}\n',
    "go": 'package main\nimport (\n "bufio"\n "fmt"\n "os"\n "strings"\n)\nfunc main() {\n'
    " line, _ := bufio.NewReader(os.Stdin).ReadString('\\n')\n"
    ' fmt.Println(strings.ToUpper(strings.TrimSpace(line)))\n fmt.Println(strings.Join(os.Args[1:], ","))\n}\n',
    "java": "import java.util.*;\npublic class Main {\n public static void main(String[] a) {\n"
    "  Scanner s = new Scanner(System.in);\n  System.out.println(s.nextLine().toUpperCase());\n"
    '  System.out.println(String.join(",", a));\n }\n}\n',
    "javascript": 'const line = require("fs").readFileSync(0, "utf8").split("\\n")[0];\n'
    'console.log(line.toUpperCase());\nconsole.log(process.argv.slice(2).join(","));\n',
    "php": '<?php\necho strtoupper(trim(fgets(STDIN))), "\\n";\necho implode(",", array_slice($argv, 1)), "\\n";\n',
    "python": 'import sys\nprint(input().upper())\nprint(",".join(sys.argv[1:]))\n',
    "ruby": 'puts STDIN.gets.strip.upcase\nputs ARGV.join(",")\n',
    "rust": "use std::io::BufRead;\nfn main() {\n let mut s = String::new();\n"
    ' std::io::stdin().lock().read_line(&mut s).unwrap();\n println!("{}", s.trim().to_uppercase());\n'
    ' println!("{}", std::env::args().skip(1).collect::<Vec<_>>().join(","));\n}\n',
}

# Writes to stderr and exits with code 3.
FAIL_WITH_3 = {
    "bash": "echo oops >&2; exit 3",
    "c": '#include <stdio.h>\nint main(void) { fputs("oops\\n", stderr); return 3; }\n',
    "cpp": '#include <iostream>\nint main() { std::cerr << "oops\\n"; return 3; }\n',
    "go": 'package main\nimport (\n "fmt"\n "os"\n)\nfunc main() { fmt.Fprintln(os.Stderr, "oops"); os.Exit(3) }\n',
    "java": 'public class Main { public static void main(String[] a) { System.err.println("oops"); System.exit(3); } }\n',
    "javascript": 'console.error("oops"); process.exit(3);\n',
    "php": '<?php\nfwrite(STDERR, "oops\\n"); exit(3);\n',
    "python": 'import sys\nprint("oops", file=sys.stderr); sys.exit(3)\n',
    "ruby": 'warn "oops"; exit 3\n',
    "rust": 'fn main() { eprintln!("oops"); std::process::exit(3); }\n',
}

# Does not compile: the compiler's message must name the problem.
COMPILE_ERROR = {
    "c": "int main(void) { return undefined_name; }\n",
    "cpp": "int main() { return undefined_name; }\n",
    "go": "package main\nfunc main() { undefined_name() }\n",
    "java": "public class Main { public static void main(String[] a) { undefined_name(); } }\n",
    "rust": "fn main() { undefined_name(); }\n",
}

# Reads two integers and prints their sum.
SUM = {
    "bash": "read a b; echo $((a + b))",
    "c": '#include <stdio.h>\nint main(void) { long a, b; scanf("%ld %ld", &a, &b); printf("%ld\\n", a + b); }\n',
    "cpp": "#include <iostream>\nint main() { long a, b; std::cin >> a >> b; std::cout << a + b << std::endl; }\n",
    "go": 'package main\nimport "fmt"\nfunc main() { var a, b int; fmt.Scan(&a, &b); fmt.Println(a + b) }\n',
    "java": "import java.util.*;\npublic class Main { public static void main(String[] x) {\n"
    " Scanner s = new Scanner(System.in); System.out.println(s.nextLong() + s.nextLong()); } }\n",
    "javascript": 'const [a, b] = require("fs").readFileSync(0, "utf8").trim().split(/\\s+/).map(Number);\n'
    "console.log(a + b);\n",
    "php": '<?php\n[$a, $b] = array_map("intval", preg_split("/\\s+/", trim(stream_get_contents(STDIN))));\n'
    'echo $a + $b, "\\n";\n',
    "python": "a, b = map(int, input().split())\nprint(a + b)\n",
    "ruby": "a, b = STDIN.read.split.map(&:to_i)\nputs a + b\n",
    "rust": "use std::io::Read;\nfn main() {\n let mut s = String::new(); std::io::stdin().read_to_string(&mut s).unwrap();\n"
    " let v: Vec<i64> = s.split_whitespace().map(|x| x.parse().unwrap()).collect();\n"
    ' println!("{}", v[0] + v[1]);\n}\n',
}
