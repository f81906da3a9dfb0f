# codering-x prewarm bootstrap: ruby (CRuby 3.1).
#
# Prewarm command (this whole file, unchanged, is ONE argv element):
#   ["ruby", "-e", "{bootstrap}"]
# Cold command it stands in for:
#   ["ruby", "<entry>", *args]
#
# Protocol: blocks on STDIN for "<L>\n" + L bytes = entry NUL arg1 NUL ...;
# the bytes after the header are the learner's stdin and are never read here
# (STDIN.sysread: unbuffered read(2), one byte at a time up to "\n", then
# exactly L bytes).  EOF or a malformed header -> exit status 111, no output.
#
# How the cold start is reproduced:
#  * ARGV is refilled in place (frozen strings in the default external
#    encoding, like the interpreter does).  $0 is the interpreter's own
#    program-name string, which is also what Process.argv0 returns: it is
#    replaced in place with the entry name, so $0, $PROGRAM_NAME and
#    Process.argv0 read the entry and $0 stays unfrozen, as cold
#    (`$0 = ...` would freeze it and rewrite the process title).
#  * The entry is compiled with RubyVM::InstructionSequence.compile_file
#    (same parser as for a main script, real path recorded, label "<main>",
#    top self = main, so __FILE__, __dir__, require_relative, `return` at top
#    level, error_highlight's "^^^^" snippets and DATA behave like cold) and
#    evaluated.  DATA is defined when the file has an __END__ line.
#  * No top-level local variables, methods, constants or globals are created
#    by this bootstrap and nothing is required ($LOADED_FEATURES unchanged).
#  * An exception leaving the program gets the two bootstrap frames
#    ("-e:...:in `eval'", "-e:...:in `<main>'") removed from its backtrace
#    (in place, so backtrace_locations and error_highlight are untouched)
#    and is re-raised unchanged: the interpreter prints it, runs at_exit
#    handlers and exits 1 exactly as for a cold start.  A syntax error in the
#    entry is printed the way the interpreter prints it for a main script.
#
# Known differences that cannot be removed (documented; the ones marked [t]
# are exercised as "known diff" by tests/prewarm_equivalence.py):
#  * [t] caller / caller_locations / Thread#backtrace and the backtrace of an
#    exception *caught by the program* end with the two bootstrap frames
#    ("-e:...:in `eval'" and "-e:...:in `<main>'"); uncaught ones do not.
#  * [t] TOPLEVEL_BINDING does not hold the program's top-level local
#    variables (binding.local_variables at top level does).  Kernel#eval with
#    TOPLEVEL_BINDING would fix that but breaks __dir__, top-level `return`
#    and error_highlight, so compile_file is used.
#  * /proc/self/cmdline and `ps` show "ruby -e <bootstrap>".
#  * A shebang line in the entry ("#!/usr/bin/env ruby -w") is not parsed
#    for interpreter options.
#  * Exception#backtrace_locations of the uncaught exception (visible only to
#    at_exit handlers via $!) still contains the two bootstrap frames.
begin
  RubyVM::InstructionSequence.compile_file(lambda do
    fail = lambda { exit!(111) }
    begin
      digits = +''
      loop do
        c = STDIN.sysread(1)
        break if c == "\n"
        fail.call unless c.between?('0', '9') && digits.size < 9
        digits << c
      end
      fail.call if digits.empty?
      total = digits.to_i
      buf = +''
      buf << STDIN.sysread(total - buf.bytesize) while buf.bytesize < total
    rescue SystemExit
      raise
    rescue Exception
      fail.call
    end
    enc = Encoding.default_external
    fields = buf.split("\0", -1).map { |s| s.force_encoding(enc) }
    entry = fields.shift
    fail.call if entry.nil? || entry.empty?
    ARGV.replace(fields.map(&:freeze))
    $0.replace(entry)
    unless File.file?(entry) && File.readable?(entry)
      STDERR.write("ruby: #{File.exist?(entry) ? 'Permission denied' : 'No such file or directory'} -- #{entry} (LoadError)\n")
      exit!(1)
    end
    begin
      src = File.binread(entry)
      pos = 0
      src.each_line do |line|
        pos += line.bytesize
        if line == "__END__\n" || line == "__END__\r\n" || line == '__END__'
          Object.const_set(:DATA, File.new(entry).tap { |f| f.seek(pos) })
          break
        end
      end
    rescue SystemCallError, IOError
      # compile_file reports a missing / unreadable entry
    end
    entry
  end.call).eval
rescue Exception
  # In place: Exception#backtrace returns the same cached Array every time.
  $!.backtrace&.then { |b| b.pop while !b.empty? && b.last.start_with?('-e:') }
  if $!.is_a?(SyntaxError) && $!.backtrace&.empty?
    # Parse error of the entry: the interpreter prints "message" only.
    STDERR.write($!.message.end_with?("\n") ? $!.message : "#{$!.message}\n")
    exit!(1)
  end
  raise
end
