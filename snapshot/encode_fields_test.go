package snapshot

import (
	"reflect"
	"testing"
)

// TestAppendGoroutineEveryField: a Goroutine with every field set, whatever fields it has
// now or gains later, is written as encoding/json writes it. A field added to Goroutine
// and not to the encoder fails here.
func TestAppendGoroutineEveryField(t *testing.T) {
	var g Goroutine
	fill(t, reflect.ValueOf(&g).Elem(), "Goroutine")
	checkSameAsStd(t, &g)
}

// fill sets every field of v to a value that is not the zero one.
func fill(t *testing.T, v reflect.Value, path string) {
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(t, v.Field(i), path+"."+v.Type().Field(i).Name)
			}
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), path)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		fill(t, v.Index(0), path+"[0]")
		fill(t, v.Index(1), path+"[1]")
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for _, k := range []string{"b", "a"} {
			val := reflect.New(v.Type().Elem()).Elem()
			fill(t, val, path+"["+k+"]")
			m.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), val)
		}
		v.Set(m)
	case reflect.String:
		v.SetString("x<\"" + path + "\">")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(42)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		v.SetUint(42)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	default:
		t.Fatalf("%s: a %s field: teach fill (and the encoder) about it", path, v.Kind())
	}
}
