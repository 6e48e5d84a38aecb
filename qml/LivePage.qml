import QtQuick
import Hubris.Native

// Live TV: the info banner and the state of the stream over the video (digits typed: Main.qml).
Item {
    id: live
    property bool overlaid: false // the channel list is open over it
    property bool slowTuning: false // the stream has been opening for a while
    signal openChannels()
    signal openGuide()
    signal openMenu()
    signal askPin()
    signal openPlayback()
    signal notice(string text)

    function tuningStarts() {
        slowTuning = false
        if (Hal.player.state === Player.Opening) tuning.restart()
        else tuning.stop()
    }
    function handle(action) {
        switch (action) {
        case RemoteKeys.Up: case RemoteKeys.ChannelUp: Zapper.channelUp(); return true
        case RemoteKeys.Down: case RemoteKeys.ChannelDown: Zapper.channelDown(); return true
        case RemoteKeys.PreviousChannel: Zapper.previousChannel(); return true
        case RemoteKeys.Info: banner.opacity > 0 ? banner.close() : banner.show(); return true
        case RemoteKeys.Ok:
            if (Zapper.blocked) { live.askPin(); return true }
            live.openChannels(); return true
        case RemoteKeys.Guide: live.openGuide(); return true
        case RemoteKeys.Menu: live.openMenu(); return true
        case RemoteKeys.Back: banner.close(); return true
        // Archived channels (network DVR): yellow or play/pause pauses live TV, left rewinds.
        case RemoteKeys.Yellow: case RemoteKeys.PlayPause:
            if (Playback.pauseLive(Zapper.current)) live.openPlayback()
            else if (Dvr.enabled) live.notice(qsTr("This channel cannot be paused"))
            return true
        case RemoteKeys.Left:
            if (Playback.rewindLive(Zapper.current, 30)) live.openPlayback()
            return true
        }
        return false
    }

    // A locked channel: no picture; the PIN prompt opens over this, OK opens it again.
    Rectangle {
        anchors.fill: parent
        visible: Zapper.blocked
        color: Theme.background
        Column {
            // Low on the screen: the PIN prompt sits in the middle.
            anchors.horizontalCenter: parent.horizontalCenter
            anchors.bottom: parent.bottom; anchors.bottomMargin: Theme.margin + 20
            spacing: 18
            Row {
                anchors.horizontalCenter: parent.horizontalCenter
                spacing: 16
                LockIcon { anchors.verticalCenter: parent.verticalCenter; color: Theme.accent }
                Text {
                    textFormat: Text.PlainText
                    text: qsTr("This channel is locked")
                    color: Theme.text; font.family: Theme.family; font.pixelSize: Theme.fontLarge
                }
            }
            Text {
                textFormat: Text.PlainText
                anchors.horizontalCenter: parent.horizontalCenter
                text: qsTr("OK enter the PIN · up/down another channel")
                color: Theme.dimText; font.family: Theme.family; font.pixelSize: Theme.fontSmall
            }
        }
    }

    InfoBanner { id: banner }

    // What the viewer sees while a stream opens or after it failed: never a frozen black screen.
    // "Tuning…" only once a stream is slow to open: most zaps show their picture sooner, and a
    // frame painted for the text alone would hold the picture up by a whole frame.
    Timer { id: tuning; interval: 500; onTriggered: live.slowTuning = true }
    Connections {
        target: Hal.player
        function onStateChanged() { live.tuningStarts() }
    }
    Component.onCompleted: tuningStarts()
    Column {
        anchors.centerIn: parent
        spacing: 12
        visible: Hal.player.state !== Player.Playing && (Hal.player.state !== Player.Opening || live.slowTuning)
                 && Zapper.current >= 0 && !live.overlaid && !Zapper.blocked
        Text {
            textFormat: Text.PlainText
            anchors.horizontalCenter: parent.horizontalCenter
            text: Hal.player.state === Player.Failed ? qsTr("This channel is not available")
                                                     : Hal.player.state === Player.Opening ? qsTr("Tuning…") : ""
            color: Theme.text
            font.family: Theme.family; font.pixelSize: Theme.fontLarge
        }
        Text {
            textFormat: Text.PlainText
            anchors.horizontalCenter: parent.horizontalCenter
            width: Math.min(implicitWidth, live.width - 2 * Theme.margin)
            wrapMode: Text.Wrap
            horizontalAlignment: Text.AlignHCenter
            visible: Hal.player.state === Player.Failed
            text: Hal.player.errorString + "\n" + qsTr("Press OK for the channel list")
            color: Theme.dimText
            font.family: Theme.family; font.pixelSize: Theme.fontSmall
        }
    }
}
