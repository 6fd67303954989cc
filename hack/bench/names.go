package main

import (
	"sync"
	_ "unsafe" // go:linkname

	"k8s.io/apimachinery/pkg/util/sets"
	_ "sigs.k8s.io/controller-runtime/pkg/controller" // owner of the names below
)

// controller-runtime refuses a second controller with the same name in one
// process ("Controller names must be unique to avoid multiple controllers
// reporting the same metric") unless SkipNameValidation is set, which
// app.Options does not expose. The restart measurement starts a second
// manager in this process on purpose, after the first one stopped, so the
// benchmark forgets the names the first one registered. Nothing else of
// controller-runtime's state is touched.

//go:linkname crNameLock sigs.k8s.io/controller-runtime/pkg/controller.nameLock
var crNameLock sync.Mutex

//go:linkname crUsedNames sigs.k8s.io/controller-runtime/pkg/controller.usedNames
var crUsedNames sets.Set[string]

func forgetControllerNames() {
	crNameLock.Lock()
	defer crNameLock.Unlock()
	crUsedNames = nil
}
