import QtQuick
import Hubris.Native

// The main menu (Menu key): every function one arrow and OK away.
Rectangle {
    id: page
    signal closed()
    signal chosen(string name)
    readonly property var items: [
        { name: "guide", label: qsTr("TV guide") },
        { name: "channels", label: qsTr("Channel list") },
        { name: "search", label: qsTr("Search") },
        { name: "settings", label: qsTr("Settings") },
        { name: "recordings", label: qsTr("Recordings") },
        { name: "upcoming", label: qsTr("Upcoming recordings") }
    ].concat(Shell.developmentBuild ? [{ name: "diagnostics", label: Diagnostics.shown ? qsTr("Hide diagnostics")
                                                                                       : qsTr("Diagnostics") }] : [])
    property int current: 0
    function open() { current = 0 }
    function handle(action) {
        switch (action) {
        case RemoteKeys.Up: current = (current + items.length - 1) % items.length; return true
        case RemoteKeys.Down: current = (current + 1) % items.length; return true
        case RemoteKeys.Ok: page.chosen(items[current].name); return true
        case RemoteKeys.Back: case RemoteKeys.Menu: page.closed(); return true
        }
        return false
    }
    // Its place and height come from Main.qml (the page's loader, inside the safe area).
    width: 420
    radius: 10
    color: Theme.panel
    Column {
        x: 20; y: 24; spacing: 10; width: parent.width - 40
        Text { textFormat: Text.PlainText; text: qsTr("Menu"); color: Theme.text; font.family: Theme.family; font.pixelSize: Theme.fontLarge; font.bold: true }
        Repeater {
            model: page.items
            Rectangle {
                required property int index
                required property var modelData
                width: parent.width; height: 64; radius: 6
                color: page.current === index ? Theme.cellNow : "transparent"
                border.color: page.current === index ? Theme.focus : "transparent"; border.width: Theme.focusWidth
                Text { textFormat: Text.PlainText; x: 16; anchors.verticalCenter: parent.verticalCenter; text: parent.modelData.label
                       color: Theme.text; font.family: Theme.family; font.pixelSize: Theme.fontNormal }
            }
        }
    }
}
