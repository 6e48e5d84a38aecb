import QtQuick
import Hubris.Native

// Playing a recording, a catch-up airing or paused live TV (Playback): OK pauses and plays,
// left/right go 30 s back and forward, up/down 5 minutes, Back stops (a recording remembers
// where); at the end it closes. The bar stays while paused and for a few seconds after each key.
Item {
    id: page
    objectName: "playbackPage"
    signal closed()
    property string returnTo: "live" // the page Back goes to

    function open() { bar.show() }
    function handle(action) {
        bar.show()
        switch (action) {
        case RemoteKeys.Ok: case RemoteKeys.PlayPause: case RemoteKeys.Yellow: Playback.togglePause(); return true
        case RemoteKeys.Left: Playback.seekBy(-30); return true
        case RemoteKeys.Right: Playback.seekBy(30); return true
        case RemoteKeys.Down: Playback.seekBy(-300); return true
        case RemoteKeys.Up: Playback.seekBy(300); return true
        case RemoteKeys.Info: return true
        case RemoteKeys.Back: Playback.stop(); page.closed(); return true
        }
        return false
    }
    Connections {
        target: Playback
        function onBackToLive() { page.returnTo = "live"; page.closed() }
        // Played to its end: back to where it was chosen (Recordings, the details).
        function onEnded() { page.closed() }
    }

    Rectangle {
        anchors.centerIn: parent
        visible: Playback.paused
        width: 140; height: 140; radius: 70
        color: Theme.panel
        border.color: Theme.focus; border.width: Theme.focusWidth
        Row { anchors.centerIn: parent; spacing: 18
              Rectangle { width: 22; height: 64; color: Theme.text }
              Rectangle { width: 22; height: 64; color: Theme.text } }
    }
    Rectangle {
        id: bar
        function show() { opacity = 1; hideBar.restart() }
        anchors.left: parent.left; anchors.right: parent.right; anchors.bottom: parent.bottom
        anchors.margins: Theme.margin
        height: 150; radius: 10
        color: Theme.panel
        opacity: 1
        visible: opacity > 0
        Behavior on opacity { NumberAnimation { duration: 150 } }
        Timer { id: hideBar; interval: 5000; onTriggered: if (!Playback.paused) bar.opacity = 0 }
        Text {
            id: label
            textFormat: Text.PlainText
            x: 24; y: 16; width: parent.width - 48 - clock.width; elide: Text.ElideRight
            // A programme still on, watched from its start, is what its button said: "From the start".
            text: (Playback.mode === "timeshift" ? qsTr("Timeshift · ")
                   : Playback.mode === "catchup" ? (Playback.availableTo < 1 ? qsTr("From the start · ") : qsTr("Catch-up · "))
                   : qsTr("Recording · "))
                  + Playback.title + (Playback.paused ? qsTr(" · paused") : "")
            color: Theme.text; font.family: Theme.family; font.pixelSize: Theme.fontNormal; font.bold: true
        }
        Text {
            id: clock
            textFormat: Text.PlainText
            anchors.right: parent.right; anchors.rightMargin: 24; anchors.baseline: label.baseline
            text: Playback.positionText
            color: Theme.accent; font.family: Theme.family; font.pixelSize: Theme.fontNormal
        }
        Rectangle { // the whole (timeshift: what the archive holds, to live), and where the viewer is in it
            id: track
            x: 24; y: 66; width: parent.width - 48; height: 10; radius: 5
            color: Theme.cell
            Rectangle { // what can be played now: a recording still being made up to what is recorded
                objectName: "playbackAvailable"
                x: parent.width * Playback.availableFrom
                width: parent.width * Math.max(0, Playback.availableTo - Playback.availableFrom)
                height: parent.height; radius: 5
                color: Theme.dimText; opacity: 0.6
            }
            Rectangle {
                height: parent.height; radius: 5
                color: Theme.focus
                width: parent.width * Playback.progress
            }
        }
        Text {
            textFormat: Text.PlainText
            x: 24; anchors.bottom: parent.bottom; anchors.bottomMargin: 14
            text: qsTr("OK pause/play   ◀ ▶ 30 s   ▲ ▼ 5 min   Back stop")
            color: Theme.dimText; font.family: Theme.family; font.pixelSize: 18
        }
    }
    Text {
        textFormat: Text.PlainText
        anchors.centerIn: parent; anchors.verticalCenterOffset: 110
        visible: Hal.player.state === Player.Failed
        width: Math.min(implicitWidth, page.width - 2 * Theme.margin); wrapMode: Text.Wrap; horizontalAlignment: Text.AlignHCenter
        text: qsTr("This cannot be played: %1").arg(Hal.player.errorString)
        color: Theme.text; font.family: Theme.family; font.pixelSize: Theme.fontNormal
    }
}
