package persist

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"
)

func TestSettingsSurviveReopenAndStayOutOfTheTree(t *testing.T) {
	db := mustOpen(t, tempPath(t))
	_, err := db.Setting("server/secret")
	require.ErrorIs(t, err, ErrNoSetting)

	require.NoError(t, db.SetSetting("server/secret", []byte("s3cret")))
	require.NoError(t, db.SetSetting("empty", nil))
	seq := db.Tree().Snapshot().Seq()
	db = reopen(t, db)
	defer db.Close()
	v, err := db.Setting("server/secret")
	require.NoError(t, err)
	require.Equal(t, "s3cret", string(v))
	v, err = db.Setting("empty")
	require.NoError(t, err)
	require.Empty(t, v)
	require.Equal(t, seq, db.Tree().Snapshot().Seq(), "settings are not tree versions")

	require.NoError(t, db.SetSetting("server/secret", []byte("other")))
	v, _ = db.Setting("server/secret")
	require.Equal(t, "other", string(v))
	require.NoError(t, db.DeleteSetting("server/secret"))
	require.NoError(t, db.DeleteSetting("never-set"))
	_, err = db.Setting("server/secret")
	require.ErrorIs(t, err, ErrNoSetting)
}

func TestSettingOrCreateCreatesOnce(t *testing.T) {
	path := tempPath(t)
	calls := 0
	create := func() ([]byte, error) { calls++; return []byte{byte(calls)}, nil }
	db := mustOpen(t, path)
	v, created, err := db.SettingOrCreate("k", create)
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, []byte{1}, v)
	db = reopen(t, db)
	v, created, err = db.SettingOrCreate("k", create)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, []byte{1}, v)
	require.Equal(t, 1, calls)

	// A failing create stores nothing and its error comes back as is.
	boom := errors.New("boom")
	_, _, err = db.SettingOrCreate("other", func() ([]byte, error) { return nil, boom })
	require.Equal(t, boom, err)
	_, err = db.Setting("other")
	require.ErrorIs(t, err, ErrNoSetting)
	require.NoError(t, db.Close())

	// Read-only: existing values read, absent ones are not created.
	ro := mustOpen(t, path, WithReadOnly())
	defer ro.Close()
	v, created, err = ro.SettingOrCreate("k", create)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, []byte{1}, v)
	_, _, err = ro.SettingOrCreate("absent", create)
	require.ErrorIs(t, err, ErrWrite)
	require.ErrorIs(t, ro.SetSetting("k", []byte("x")), ErrWrite)
	require.Equal(t, 1, calls)
}

func TestSettingKeysAndClosedStore(t *testing.T) {
	db := mustOpen(t, tempPath(t))
	for _, key := range []string{"", string(make([]byte, MaxSettingKey+1)), "\xff"} {
		_, err := db.Setting(key)
		require.ErrorIs(t, err, ErrSettingKey)
		require.ErrorIs(t, db.SetSetting(key, nil), ErrSettingKey)
		require.ErrorIs(t, db.DeleteSetting(key), ErrSettingKey)
		_, _, err = db.SettingOrCreate(key, nil)
		require.ErrorIs(t, err, ErrSettingKey)
	}
	require.NoError(t, db.Close())
	_, err := db.Setting("k")
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, db.SetSetting("k", nil), ErrClosed)
}

func TestDamagedSettingIsCorrupt(t *testing.T) {
	path := tempPath(t)
	db := mustOpen(t, path)
	require.NoError(t, db.SetSetting("k", []byte("value")))
	require.NoError(t, db.Close())

	b, err := bbolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, b.Update(func(tx *bbolt.Tx) error {
		bucket := tx.Bucket(bucketSettings)
		v := append([]byte(nil), bucket.Get([]byte("k"))...)
		v[len(v)-1] ^= 1
		return bucket.Put([]byte("k"), v)
	}))
	require.NoError(t, b.Close())

	db = mustOpen(t, path) // the tree is sound: Open succeeds
	defer db.Close()
	_, err = db.Setting("k")
	require.ErrorIs(t, err, ErrCorrupt)
	_, _, err = db.SettingOrCreate("k", func() ([]byte, error) { return []byte("new"), nil })
	require.ErrorIs(t, err, ErrCorrupt, "a damaged value is never silently replaced")
}
