package runtimeapi

import (
	"bytes"
	"io"
	"sync"
)

// lineOutput writes the lines of a function's processes to one writer, each whole line with the
// function's prefix, so the output of concurrent processes never interleaves within a line.
type lineOutput struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
}

// stream returns a writer for one of a process's output streams.
func (o *lineOutput) stream() io.WriteCloser {
	return &lineStream{out: o}
}

func (o *lineOutput) writeLine(line []byte) {
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

// Close writes what is left of an unfinished last line; the instance calls it once its process is reaped.
func (s *lineStream) Close() error {
	if len(s.partial) > 0 {
		s.out.writeLine(s.partial)
		s.partial = nil
	}
	return nil
}
