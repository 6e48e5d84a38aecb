import QtQuick
import Hubris.Native

// Settings: the theme and the volume change here with left/right; the rest says how the box is.
Rectangle {
    id: page
    signal closed()
    property int current: 0
    readonly property int count: 2
    function open() { current = 0 }
    function handle(action) {
        switch (action) {
        case RemoteKeys.Up: current = (current + count - 1) % count; return true
        case RemoteKeys.Down: current = (current + 1) % count; return true
        case RemoteKeys.Left: case RemoteKeys.Right: case RemoteKeys.Ok:
            if (current === 0) Theme.highContrast = !Theme.highContrast
            else Hal.changeVolume(action === RemoteKeys.Left ? -5 : 5)
            return true
        case RemoteKeys.Back: case RemoteKeys.Menu: page.closed(); return true
        }
        return false
    }
    color: Theme.background
    component Row2: Rectangle {
        property int row
        property string label
        property string value
        width: 760; height: 64; radius: 6
        color: page.current === row ? Theme.cellNow : Theme.cell
        border.color: page.current === row ? Theme.focus : "transparent"; border.width: Theme.focusWidth
        Text { x: 18; anchors.verticalCenter: parent.verticalCenter; text: parent.label
               color: Theme.text; font.family: Theme.family; font.pixelSize: Theme.fontNormal }
        Text { anchors.right: parent.right; anchors.rightMargin: 18; anchors.verticalCenter: parent.verticalCenter
               text: "◀  " + parent.value + "  ▶"
               color: Theme.accent; font.family: Theme.family; font.pixelSize: Theme.fontNormal }
    }
    Column {
        x: Theme.margin * 2; y: Theme.margin
        spacing: 14
        Text { text: qsTr("Settings"); color: Theme.text; font.family: Theme.family; font.pixelSize: Theme.fontLarge; font.bold: true }
        Row2 { row: 0; label: qsTr("Theme"); value: Theme.highContrast ? qsTr("High contrast") : qsTr("Dark") }
        Row2 { row: 1; label: qsTr("Volume"); value: Hal.muted ? qsTr("Muted") : Hal.volume }
        Item { width: 1; height: 20 }
        Text { text: qsTr("About"); color: Theme.text; font.family: Theme.family; font.pixelSize: Theme.fontNormal; font.bold: true }
        Text {
            lineHeight: 1.3
            text: qsTr("Hubris %1 · %2").arg(Shell.version).arg(Hal.model) + "\n"
                  + GuideStore.status + (GuideStore.offline ? qsTr(" · offline") : "") + "\n"
                  + qsTr("%n channel(s)", "", GuideStore.channelCount) + "\n"
                  + (Shell.linked ? qsTr("Control server: %1").arg(Link.online ? qsTr("connected as box %1").arg(Link.boxId)
                                                                                : qsTr("not connected"))
                                  : qsTr("Control server: none configured"))
            color: Theme.dimText; font.family: Theme.family; font.pixelSize: Theme.fontSmall
        }
    }
}
