package codestore

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// childEnv makes the test binary act as a consuming process (see TestMain).
const childEnv = "CODESTORE_TEST_CONSUMER"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(consumerChild(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// consumerChild opens the store named by the environment and, for each
// "userID code" line on in, consumes the code and answers "1" (won), "0"
// (refused) or "E message".
func consumerChild(in io.Reader, out io.Writer) int {
	s, err := Open(context.Background(), Options{Path: os.Getenv("CODESTORE_TEST_DB"), KeyFile: os.Getenv("CODESTORE_TEST_KEY")})
	if err != nil {
		fmt.Fprintf(out, "E open: %v\n", err)
		return 1
	}
	defer s.Close()
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			fmt.Fprintf(out, "E bad line\n")
			continue
		}
		uid, _ := strconv.ParseInt(f[0], 10, 64)
		_, ok, err := s.ConsumeBypassCode(context.Background(), uid, f[1])
		switch {
		case err != nil:
			fmt.Fprintf(out, "E %v\n", err)
		case ok:
			fmt.Fprintln(out, "1")
		default:
			fmt.Fprintln(out, "0")
		}
	}
	return 0
}

type child struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

// TestConsumeRaceProcesses runs two processes, each with its own store on
// the same file, presenting the same single-use code at once, 200 rounds:
// exactly one wins each round.
func TestConsumeRaceProcesses(t *testing.T) {
	// The children use the real clock, so the parent does too.
	db := mustOpen(t, func(o *Options) { o.Now = time.Now })
	u := db.mustUser(t, "alice")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var kids []*child
	for range 2 {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=1", "CODESTORE_TEST_DB="+db.path, "CODESTORE_TEST_KEY="+db.key)
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		k := &child{cmd: cmd, in: in, out: bufio.NewScanner(out)}
		kids = append(kids, k)
		t.Cleanup(func() {
			k.in.Close()
			done := make(chan error, 1)
			go func() { done <- k.cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				k.cmd.Process.Kill()
				<-done
			}
		})
	}
	const rounds = 200
	for round := range rounds {
		code := db.mustIssue(t, IssueRequest{User: "alice", Count: 1, Uses: 1, TTL: time.Hour})[0]
		line := fmt.Sprintf("%d %s\n", u.ID, code.Code)
		for _, k := range kids {
			if _, err := io.WriteString(k.in, line); err != nil {
				t.Fatalf("round %d: write to child: %v", round, err)
			}
		}
		wins := 0
		for i, k := range kids {
			if !k.out.Scan() {
				t.Fatalf("round %d: child %d exited: %v", round, i, k.out.Err())
			}
			switch ans := k.out.Text(); ans {
			case "1":
				wins++
			case "0":
			default:
				t.Fatalf("round %d: child %d: %s", round, i, ans)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d processes won, want exactly 1", round, wins)
		}
	}
	if n := db.countCodes(t, u.ID); n != 0 {
		t.Errorf("%d codes left after every round was consumed", n)
	}
}
