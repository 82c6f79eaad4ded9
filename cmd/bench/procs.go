package main

// Child processes: started pinned to a CPU in their own process group, so that
// stopping one stops everything it started and Ctrl-C on the terminal reaches the
// bench alone, which then stops them in order.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// inOwnGroup makes cmd the leader of a new process group, killed as a whole when
// cmd's context ends.
func inOwnGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
}

// proc is a long-running child process: a server.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	err     error         // its exit status, once done is closed
}

// startProc starts argv pinned to cpu by taskset, with env added to the bench's
// environment, and its output going to logPath.
func startProc(ctx context.Context, name, cpu, logPath string, env []string, argv ...string) (*proc, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "taskset", append([]string{"-c", cpu}, argv...)...)
	inOwnGroup(cmd)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the process group: SIGTERM, then SIGKILL if it is still running after
// five seconds. It is safe to call more than once.
func (p *proc) stop() {
	if p == nil || p.exited() {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// logTail is the end of the process's output, for error messages.
func (p *proc) logTail() string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	const max = 2000
	if len(data) > max {
		data = data[len(data)-max:]
	}
	return strings.TrimSpace(string(data))
}

// allowedCPUs is the Cpus_allowed_list of the running process, to show that the
// pinning took effect.
func (p *proc) allowedCPUs() string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return "?"
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// waitReady polls GET url every 50ms until it answers 200, the process exits, or
// timeout passes.
func (p *proc) waitReady(ctx context.Context, url string, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(timeout)
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = errors.New(resp.Status)
		}
		last = err
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v (GET %s: %v)\n%s", p.name, timeout, url, last, p.logTail())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			return fmt.Errorf("%s exited while starting (%v):\n%s", p.name, p.err, p.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// checkPortsFree fails if any of addrs is already taken, say by a bench still
// running or a server left over.
func checkPortsFree(addrs []string) error {
	var busy []string
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			busy = append(busy, a)
			continue
		}
		ln.Close()
	}
	if len(busy) > 0 {
		return fmt.Errorf("addresses already in use: %s (another bench running, or a server left over?)", strings.Join(busy, ", "))
	}
	return nil
}

// clockTicks is the kernel's USER_HZ, the unit of /proc CPU times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// processCPU is the CPU time (user + system) the process pid has used so far.
// processPeakRSS is the most resident memory process pid has had (VmHWM), in bytes.
func processPeakRSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmHWM", pid)
}

func processCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces: count the
	// fields after its closing parenthesis, where field 3 (the state) is the first.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	var ticks uint64
	for _, v := range f[11:13] { // fields 14 and 15: utime and stime
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %v", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// cpuTicks is the busy and total time of one CPU so far, in clock ticks, from
// /proc/stat. Busy is everything but idle and iowait.
func cpuTicks(cpu string) (busy, total uint64, err error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) < 5 || f[0] != "cpu"+cpu {
			continue
		}
		for i, v := range f[1:] {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("/proc/stat: %v", err)
			}
			if i >= 7 { // guest and guest_nice are already counted in user and nice
				break
			}
			total += n
			if i != 3 && i != 4 { // idle, iowait
				busy += n
			}
		}
		return busy, total, nil
	}
	return 0, 0, fmt.Errorf("/proc/stat: no cpu%s", cpu)
}

// cpuMeter measures, over one run, the CPU time the server process used and how
// busy the load CPU was.
type cpuMeter struct {
	pid             int // 0: no server process
	start           time.Time
	server          time.Duration
	busy, total     uint64
	serverErr, cErr error
}

func startCPUMeter(server *proc) *cpuMeter {
	m := &cpuMeter{start: time.Now()}
	if server != nil {
		m.pid = server.cmd.Process.Pid
		m.server, m.serverErr = processCPU(m.pid)
	}
	m.busy, m.total, m.cErr = cpuTicks(loadCPU)
	return m
}

// stop returns the server's CPU time over the run, the run's wall time, and the load
// CPU's busy fraction; server and loadBusy are -1 when they could not be measured.
func (m *cpuMeter) stop() (server, elapsed time.Duration, loadBusy float64) {
	server, elapsed, loadBusy = -1, time.Since(m.start), -1
	if m.pid != 0 && m.serverErr == nil {
		if t, err := processCPU(m.pid); err == nil {
			server = t - m.server
		}
	}
	if m.cErr == nil {
		if busy, total, err := cpuTicks(loadCPU); err == nil && total > m.total {
			loadBusy = float64(busy-m.busy) / float64(total-m.total)
		}
	}
	return server, elapsed, loadBusy
}
