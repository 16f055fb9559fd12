package codestore

import (
	"context"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestBatchWriterKeepsOneThread: every write runs on the writer's one OS
// thread, from however many goroutines the writes come.
func TestBatchWriterKeepsOneThread(t *testing.T) {
	db := mustOpen(t)
	var mu sync.Mutex
	threads := map[int]int{}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				err := db.batch.do(context.Background(), func(tx *dbTx) error {
					mu.Lock()
					threads[unix.Gettid()]++
					mu.Unlock()
					return nil
				})
				if err != nil {
					t.Errorf("write %d/%d: %v", g, i, err)
					return
				}
				time.Sleep(time.Duration(i%3) * 100 * time.Microsecond)
			}
		}()
	}
	wg.Wait()
	if len(threads) != 1 {
		t.Errorf("the writer ran on %d OS threads (writes per thread id: %v), want 1", len(threads), threads)
	}
}
