package rie

import (
	"bytes"
	"io"
	"sync"
)

// lineOutput writes the lines of a function's emulators to one writer, each whole line with the
// function's prefix, so the output of concurrent processes never interleaves within a line. The
// emulator's START, END and REPORT lines (Lambda's platform lines) are left out: they would
// triple the output and say nothing the stack's own logs do not.
type lineOutput struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
}

// stream returns a writer for one of an emulator's output streams.
func (o *lineOutput) stream() io.WriteCloser {
	return &lineStream{out: o}
}

func (o *lineOutput) writeLine(line []byte) {
	// The function's stdout is the emulator's: a line the function left unfinished is ended by
	// the platform line the emulator writes next.
	for _, platform := range []string{"START RequestId: ", "END RequestId: ", "REPORT RequestId: "} {
		if i := bytes.Index(line, []byte(platform)); i >= 0 {
			line = line[:i]
		}
	}
	if len(line) == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	io.WriteString(o.w, o.prefix)
	o.w.Write(line)
	if len(line) == 0 || line[len(line)-1] != '\n' {
		io.WriteString(o.w, "\n")
	}
}

// lineStream holds a partial line until its end arrives.
type lineStream struct {
	out     *lineOutput
	partial []byte
}

func (s *lineStream) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		end := bytes.IndexByte(p, '\n')
		if end < 0 {
			s.partial = append(s.partial, p...)
			break
		}
		s.out.writeLine(append(s.partial, p[:end+1]...))
		s.partial = s.partial[:0]
		p = p[end+1:]
	}
	return n, nil
}

// Close writes what is left of an unfinished last line; the instance calls it once its emulator is reaped.
func (s *lineStream) Close() error {
	if len(s.partial) > 0 {
		s.out.writeLine(s.partial)
		s.partial = nil
	}
	return nil
}
