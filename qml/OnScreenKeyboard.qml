import QtQuick
import Hubris.Native

// An on-screen keyboard for the remote: arrows move, OK presses the key. Leaving it to the right
// of its last column or below its last row is the page's business (exitRight / exitDown).
Grid {
    id: root
    property var keys: []
    property int keyIndex: 0
    property bool active: true     // focus is on the keyboard (else it shows no focus)
    signal pressed(string key)
    signal exitRight()
    signal exitDown()

    function handle(action) {
        const row = Math.floor(keyIndex / columns), col = keyIndex % columns
        switch (action) {
        case RemoteKeys.Left: if (col > 0) keyIndex -= 1; return true
        case RemoteKeys.Right:
            if (col === columns - 1 || keyIndex === keys.length - 1) root.exitRight()
            else keyIndex += 1
            return true
        case RemoteKeys.Up: if (row > 0) keyIndex -= columns; return true
        case RemoteKeys.Down:
            if (keyIndex + columns < keys.length) keyIndex += columns
            else root.exitDown()
            return true
        case RemoteKeys.Ok: root.pressed(keys[keyIndex]); return true
        }
        return false
    }

    columns: 7
    spacing: 6
    Repeater {
        model: root.keys
        Rectangle {
            required property int index
            required property string modelData
            readonly property bool focused: root.active && root.keyIndex === index
            width: 56; height: 56; radius: 6
            color: focused ? Theme.cellNow : Theme.cell
            border.color: focused ? Theme.focus : "transparent"; border.width: Theme.focusWidth
            Text { textFormat: Text.PlainText; anchors.centerIn: parent; text: parent.modelData; color: Theme.text
                   font.family: Theme.family; font.pixelSize: Theme.fontNormal }
        }
    }
}
