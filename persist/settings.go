package persist

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"go.etcd.io/bbolt"
	bolterr "go.etcd.io/bbolt/errors"
)

// bucketSettings holds values a program keeps beside its tree: generated
// credentials, keys, configuration. It is made on the first SetSetting, so a
// store that never had a setting has no such bucket.
var bucketSettings = []byte("settings")

// ErrNoSetting is returned by Setting for a key that holds no value.
var ErrNoSetting = errors.New("persist: no such setting")

// ErrSettingKey is returned for a setting key that is empty, longer than
// MaxSettingKey bytes or not valid UTF-8.
var ErrSettingKey = errors.New("persist: invalid setting key")

// MaxSettingKey is the longest setting key, in bytes.
const MaxSettingKey = 255

// Settings are small named values stored in the same file as the tree, each
// sealed with the same checksum as the tree's records. They are written in
// their own bbolt transaction, outside the tree's history: a setting is
// durable when SetSetting returns, in every commit mode, and Rollback or a
// failed group-commit flush never touches it.
//
// Settings are meant for what must outlive a process and belongs to the
// store, such as credentials generated on first start (anyone who can read
// the file can read them: the file is created with mode 0600).

// Setting returns the value stored under key, ErrNoSetting when there is
// none, and ErrCorrupt when its checksum does not match.
func (db *DB) Setting(key string) ([]byte, error) {
	if err := checkSettingKey(key); err != nil {
		return nil, err
	}
	var value []byte
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		var err error
		value, err = readSetting(tx, key)
		return err
	})
	return value, db.settingErr(key, err)
}

// SetSetting stores value under key, replacing any earlier value. On a
// read-only store it fails with ErrWrite.
func (db *DB) SetSetting(key string, value []byte) error {
	if err := checkSettingKey(key); err != nil {
		return err
	}
	return db.settingErr(key, db.bolt.Update(func(tx *bbolt.Tx) error {
		return writeSetting(tx, key, value)
	}))
}

// DeleteSetting removes key; removing an absent key is not an error.
func (db *DB) DeleteSetting(key string) error {
	if err := checkSettingKey(key); err != nil {
		return err
	}
	return db.settingErr(key, db.bolt.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketSettings)
		if b == nil {
			return nil
		}
		return b.Delete([]byte(key))
	}))
}

// SettingOrCreate returns the value stored under key; when there is none it
// stores the value create returns and returns it with created set. Read and
// store happen in one bbolt transaction, so two processes that race never
// both create (the file lock lets only one writer in). On a read-only store
// an absent key fails with ErrWrite and create is not called.
func (db *DB) SettingOrCreate(key string, create func() ([]byte, error)) (value []byte, created bool, err error) {
	if err := checkSettingKey(key); err != nil {
		return nil, false, err
	}
	if db.cfg.readOnly {
		value, err := db.Setting(key)
		if errors.Is(err, ErrNoSetting) {
			err = fmt.Errorf("persist: setting %q: %w: %w", key, ErrWrite, bolterr.ErrDatabaseReadOnly)
		}
		return value, false, err
	}
	err = db.bolt.Update(func(tx *bbolt.Tx) error {
		v, err := readSetting(tx, key)
		if !errors.Is(err, ErrNoSetting) {
			value = v
			return err
		}
		if value, err = create(); err != nil {
			return errCreate{err}
		}
		created = true
		return writeSetting(tx, key, value)
	})
	var ce errCreate
	if errors.As(err, &ce) {
		return nil, false, ce.err
	}
	if err != nil {
		return nil, false, db.settingErr(key, err)
	}
	return value, created, nil
}

// errCreate carries the error of SettingOrCreate's create function out of
// the bbolt transaction unwrapped.
type errCreate struct{ err error }

func (e errCreate) Error() string { return e.err.Error() }

func checkSettingKey(key string) error {
	if key == "" || len(key) > MaxSettingKey || !utf8.ValidString(key) {
		return fmt.Errorf("%w: %q", ErrSettingKey, key)
	}
	return nil
}

func readSetting(tx *bbolt.Tx, key string) ([]byte, error) {
	b := tx.Bucket(bucketSettings)
	var sealed []byte
	if b != nil {
		sealed = b.Get([]byte(key))
	}
	if sealed == nil {
		return nil, fmt.Errorf("%w: %q", ErrNoSetting, key)
	}
	value, err := open(bucketSettings, []byte(key), sealed)
	if err != nil {
		return nil, err
	}
	// bbolt's slices are only valid inside the transaction.
	return append([]byte(nil), value...), nil
}

func writeSetting(tx *bbolt.Tx, key string, value []byte) error {
	b, err := tx.CreateBucketIfNotExists(bucketSettings)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), seal([]byte(key), value))
}

// settingErr gives a bbolt error the package's types.
func (db *DB) settingErr(key string, err error) error {
	switch {
	case err == nil, errors.Is(err, ErrNoSetting), errors.Is(err, ErrCorrupt):
		return err
	case errors.Is(err, bolterr.ErrDatabaseNotOpen):
		return fmt.Errorf("persist: setting %q: %w", key, ErrClosed)
	}
	return fmt.Errorf("persist: setting %q of %s: %w: %w", key, db.path, ErrWrite, err)
}
