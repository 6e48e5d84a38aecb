import QtQuick
import Hubris.Native

// The channel list over the video: numbers, names, what is on now; OK tunes, yellow marks a
// favourite, green shows favourites only, red locks or unlocks the channel (with the PIN).
Rectangle {
    id: panel
    signal closed()
    signal toggleLock(int channel)
    property bool favouritesOnly: false

    function open() {
        list.currentIndex = Math.max(0, Zapper.current)
        list.positionViewAtIndex(list.currentIndex, ListView.Center)
    }
    function move(step) {
        if (list.count === 0) return
        let i = list.currentIndex
        for (let n = 0; n < list.count; ++n) {
            i = (i + step + list.count) % list.count
            if (!favouritesOnly || Channels.get(i).favourite) break
        }
        list.currentIndex = i
    }
    function handle(action) {
        switch (action) {
        case RemoteKeys.Up: move(-1); return true
        case RemoteKeys.Down: move(1); return true
        case RemoteKeys.ChannelUp: case RemoteKeys.Left: list.currentIndex = Math.max(0, list.currentIndex - 8); return true
        case RemoteKeys.ChannelDown: case RemoteKeys.Right: list.currentIndex = Math.min(list.count - 1, list.currentIndex + 8); return true
        case RemoteKeys.Ok: Zapper.tune(list.currentIndex); panel.closed(); return true
        case RemoteKeys.Yellow: Channels.toggleFavourite(list.currentIndex); return true
        case RemoteKeys.Green: favouritesOnly = !favouritesOnly; return true
        case RemoteKeys.Red: panel.toggleLock(list.currentIndex); return true
        case RemoteKeys.Back: panel.closed(); return true
        }
        return false // digits: Main.qml closes the list and types the number over live TV
    }

    // Its place and height come from Main.qml (the page's loader, inside the safe area).
    width: 520
    radius: 10
    color: Theme.panel

    Text {
        id: heading
        textFormat: Text.PlainText
        x: 20; y: 14
        text: panel.favouritesOnly ? qsTr("Favourites") : qsTr("Channels")
        color: Theme.text
        font.family: Theme.family; font.pixelSize: Theme.fontLarge; font.bold: true
    }
    ListView {
        id: list
        anchors.top: heading.bottom; anchors.topMargin: 10
        anchors.left: parent.left; anchors.right: parent.right; anchors.bottom: hint.top
        anchors.margins: 10
        clip: true
        model: Channels
        highlightMoveDuration: 80
        cacheBuffer: 400
        delegate: Rectangle {
            required property int index
            required property int number
            required property string name
            required property string nowTitle
            required property bool favourite
            readonly property bool locked: Parental.lockedChannelCount >= 0 && Parental.isChannelLocked(index)
            readonly property bool dimmed: panel.favouritesOnly && !favourite
            width: ListView.view.width
            height: dimmed ? 0 : 62
            visible: !dimmed
            radius: 6
            color: ListView.isCurrentItem ? Theme.cellNow : "transparent"
            border.color: ListView.isCurrentItem ? Theme.focus : "transparent"
            border.width: Theme.focusWidth
            Text {
                textFormat: Text.PlainText
                x: 14; anchors.verticalCenter: parent.verticalCenter
                width: 60
                text: number
                color: Theme.accent
                font.family: Theme.family; font.pixelSize: Theme.fontNormal; font.bold: true
            }
            LockIcon {
                visible: parent.locked
                anchors.right: parent.right; anchors.rightMargin: 16; anchors.verticalCenter: parent.verticalCenter
                color: Parental.unlocked ? Theme.dimText : Theme.error
            }
            Column {
                x: 84; anchors.verticalCenter: parent.verticalCenter
                width: parent.width - 100 - (parent.locked ? 30 : 0)
                Text {
                    textFormat: Text.PlainText
                    width: parent.width; elide: Text.ElideRight
                    text: (favourite ? "★ " : "") + name
                    color: Theme.text
                    font.family: Theme.family; font.pixelSize: Theme.fontNormal
                }
                Text {
                    textFormat: Text.PlainText
                    width: parent.width; elide: Text.ElideRight
                    text: nowTitle
                    color: Theme.dimText
                    font.family: Theme.family; font.pixelSize: Theme.fontSmall
                }
            }
        }
    }
    Text {
        id: hint
        textFormat: Text.PlainText
        anchors.bottom: parent.bottom; anchors.bottomMargin: 12; x: 20
        text: qsTr("OK watch  ● yellow favourite  ● green favourites only  ● red lock")
        color: Theme.dimText
        font.family: Theme.family; font.pixelSize: 16
    }
}
