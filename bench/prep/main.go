// Command prep fills a radgate store for bench/run.sh and writes the
// credential files radiusctl bench sends. It is a benchmark helper, not
// part of radgate.
//
//	prep setup -config FILE -users N -out DIR   users, devices, codes; bypass.txt wrong.txt local.txt
//	prep totp  -out DIR -users N -within D      totp.txt with fresh codes valid for at least D
//	prep argon2 -n N                             argon2id verify time (default costs): one core, then all
package main

import (
	"context"
	"crypto/sha1"
	"encoding/base32"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/radgate/radgate/codestore"
	"github.com/radgate/radgate/config"
	"github.com/radgate/radgate/primary"
)

// benchPassword is every bench user's local password.
const benchPassword = "bench-pw"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: prep setup|totp [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	cfgPath := fs.String("config", "", "radgate config file (setup)")
	users := fs.Int("users", 1000, "number of bench users")
	out := fs.String("out", ".", "directory for the credential files")
	within := fs.Duration("within", 12*time.Second, "totp: codes must stay valid this long")
	count := fs.Int("n", 20, "argon2: verifications per measurement")
	fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "setup":
		err = setup(*cfgPath, *users, *out)
	case "totp":
		err = writeTOTP(*users, *out, *within)
	case "argon2":
		err = argon2Time(*count)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "prep:", err)
		os.Exit(1)
	}
}

// argon2Time prints the median time of one argon2id verification at the
// default costs on one core, the rate that gives for every core
// (cores ÷ time: rg-local's target), and the rate of n verifications
// measured with one goroutine per core.
func argon2Time(n int) error {
	hash, err := primary.HashPassword(benchPassword, primary.DefaultArgon2)
	if err != nil {
		return err
	}
	verify := func() error {
		ok, err := primary.VerifyPassword(hash, benchPassword)
		if err == nil && !ok {
			err = fmt.Errorf("argon2: verification failed")
		}
		return err
	}
	times := make([]time.Duration, n)
	for i := range times {
		start := time.Now()
		if err := verify(); err != nil {
			return err
		}
		times[i] = time.Since(start)
	}
	slices.Sort(times)
	median := times[n/2]
	cores := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	errs := make(chan error, cores)
	start := time.Now()
	for w := range cores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += cores {
				if err := verify(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	parallel := float64(n) / time.Since(start).Seconds()
	fmt.Printf("argon2id_ms %.2f\ncores %d\ntarget_rate %.1f\nparallel_rate %.1f\n",
		float64(median.Microseconds())/1000, cores, float64(cores)/median.Seconds(), parallel)
	return nil
}

func userName(i int) string { return fmt.Sprintf("b%d", i) }

// deviceSecret is user i's TOTP secret: fixed, so that totp can compute
// codes without the store.
func deviceSecret(i int) []byte {
	s := sha1.Sum([]byte(fmt.Sprintf("radgate-bench-%d", i)))
	return s[:]
}

func setup(cfgPath string, n int, out string) error {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	ctx := context.Background()
	s, err := codestore.Open(ctx, codestore.Options{Path: cfg.Store.Path, KeyFile: cfg.Store.KeyFile})
	if err != nil {
		return err
	}
	defer s.Close()
	a := cfg.Primary.Argon2
	p := primary.DefaultArgon2
	p.Memory, p.Time, p.Threads = a.MemoryKiB, a.Time, a.Threads
	hash, err := primary.HashPassword(benchPassword, p) // one hash for all: setup speed
	if err != nil {
		return err
	}
	codes := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			name := userName(i)
			if _, err := s.AddUser(ctx, name, hash, false, "bench"); err != nil {
				errs <- err
				return
			}
			if _, _, err := s.AddDevice(ctx, name, codestore.NewDevice{Type: codestore.TOTP, Secret: deviceSecret(i)}, "bench"); err != nil {
				errs <- err
				return
			}
			ic, err := s.IssueBypassCodes(ctx, codestore.IssueRequest{User: name, Count: 1, Uses: 1_000_000, TTL: 12 * time.Hour, Admin: "bench"})
			if err != nil {
				errs <- err
				return
			}
			codes[i] = ic[0].Code
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	var bypass, wrong, local strings.Builder
	for i, c := range codes {
		fmt.Fprintf(&bypass, "%s %s\n", userName(i), c)
		fmt.Fprintf(&wrong, "%s %06d\n", userName(i), (i*7919)%1000000)
		fmt.Fprintf(&local, "%s %s,%s\n", userName(i), benchPassword, c)
	}
	for name, b := range map[string]string{"bypass.txt": bypass.String(), "wrong.txt": wrong.String(), "local.txt": local.String()} {
		if err := os.WriteFile(filepath.Join(out, name), []byte(b), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// writeTOTP writes three rounds of codes (steps now-1, now, now+1) for
// every user, round by round, so that each is accepted once, in order.
// It first waits for a new 30s step if the current one ends within
// `within`.
//
// A run may have spent codes up to the step after the one it was made
// at (kept in out/totp.step), which makes every older code a replay: so
// it also waits until that step is behind now-1.
func writeTOTP(n int, out string, within time.Duration) error {
	stepFile := filepath.Join(out, "totp.step")
	var last int64 = -1 << 62
	if b, err := os.ReadFile(stepFile); err == nil {
		fmt.Sscan(string(b), &last)
	}
	now := time.Now()
	for i := 0; i < 10; i++ {
		step := now.Unix() / 30
		left := 30*time.Second - now.Sub(now.Truncate(30*time.Second))
		if step-1 > last+1 && left >= within {
			break
		}
		time.Sleep(left + 100*time.Millisecond)
		now = time.Now()
	}
	if err := os.WriteFile(stepFile, []byte(fmt.Sprint(now.Unix()/30)), 0o600); err != nil {
		return err
	}
	opts := totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	var b strings.Builder
	for _, d := range []time.Duration{-30 * time.Second, 0, 30 * time.Second} {
		for i := range n {
			code, err := totp.GenerateCodeCustom(enc.EncodeToString(deviceSecret(i)), now.Add(d), opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "%s %s\n", userName(i), code)
		}
	}
	return os.WriteFile(filepath.Join(out, "totp.txt"), []byte(b.String()), 0o600)
}
