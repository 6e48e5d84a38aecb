import QtQuick
import Hubris.Native

// A page that is not part of the first picture: created in the background (incubated between
// frames) once the start is over (Shell.started: the first live picture is on screen), or at
// once when it is needed before that. So the QML that loads before a cold start's first picture
// is live TV's only, and a page's first key never waits for a background load.
Loader {
    id: root
    /// The page, created now (synchronously, finishing a background creation) if it is not yet.
    function page() {
        if (status !== Loader.Ready) {
            asynchronous = false
            active = true
        }
        return item
    }
    active: Shell.started
    asynchronous: true
}
