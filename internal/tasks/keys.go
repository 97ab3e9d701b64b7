package tasks

import (
	"maps"
	"slices"
	"sync"

	"github.com/fibergate/fibergate/internal/fiber"
)

// keyring maps key ids to Fiber API keys held in memory only. The store keeps key ids, never
// keys. Safe for concurrent use.
type keyring struct {
	mu   sync.RWMutex // guards keys
	keys map[string]string
}

func newKeyring(defaultKey string) *keyring {
	k := &keyring{keys: map[string]string{}}
	if defaultKey != "" {
		k.add(defaultKey)
	}
	return k
}

// add remembers key and returns its id.
func (k *keyring) add(key string) string {
	id := fiber.KeyID(key)
	k.mu.Lock()
	k.keys[id] = key
	k.mu.Unlock()
	return id
}

// ids returns the ids of the keys held, in any order.
func (k *keyring) ids() []string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return slices.Collect(maps.Keys(k.keys))
}

func (k *keyring) get(id string) (string, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	key, ok := k.keys[id]
	return key, ok
}
