import QtQuick
import Hubris.Native

// A line of text typed with the remote (a server's URL): the on-screen keyboard with the
// characters URLs need, digits type digits, red deletes, ✓ keeps it, Back leaves it as it was.
Rectangle {
    id: page
    objectName: "textEntryPage"
    signal closed()
    signal accepted(string key, string text)
    property string key: ""
    property string title: ""
    property string text: ""
    readonly property var keys: ["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q","r","s","t","u",
                                 "v","w","x","y","z","1","2","3","4","5","6","7","8","9","0",".",":","/","-","_","⌫","✕","✓"]
    function open(what, heading, value) {
        key = what; title = heading; text = value
        // Start on ✓: a viewer who only checks the value leaves with OK.
        keyboard.keyIndex = keys.length - 1
    }
    function type(t) { text += t.toLowerCase() }
    function press(k) {
        if (k === "⌫") text = text.slice(0, -1)
        else if (k === "✕") text = ""
        else if (k === "✓") { page.accepted(key, text); page.closed() }
        else text += k
    }
    function handle(action) {
        const d = Remote.digitOf(action)
        if (d >= 0) { text += String(d); return true }
        switch (action) {
        case RemoteKeys.Red: text = text.slice(0, -1); return true
        case RemoteKeys.Back: page.closed(); return true
        }
        keyboard.handle(action)
        return true
    }

    color: Theme.background
    Text {
        id: heading
        textFormat: Text.PlainText
        x: Theme.margin; y: 28
        text: page.title
        color: Theme.text; font.family: Theme.family; font.pixelSize: Theme.fontLarge; font.bold: true
    }
    Rectangle {
        id: field
        x: Theme.margin; anchors.top: heading.bottom; anchors.topMargin: 18
        width: parent.width - 2 * Theme.margin; height: 60; radius: 6
        color: Theme.cell
        border.color: Theme.dimText; border.width: 1
        Text {
            textFormat: Text.PlainText
            x: 16; anchors.verticalCenter: parent.verticalCenter
            width: parent.width - 32; elide: Text.ElideLeft
            text: page.text + "▏"
            color: Theme.text; font.family: Theme.family; font.pixelSize: Theme.fontNormal
        }
    }
    OnScreenKeyboard {
        id: keyboard
        x: Theme.margin; anchors.top: field.bottom; anchors.topMargin: 20
        columns: 11
        keys: page.keys
        onPressed: (k) => page.press(k)
    }
    Text {
        textFormat: Text.PlainText
        x: Theme.margin; anchors.top: keyboard.bottom; anchors.topMargin: 20
        text: qsTr("OK types   ✓ keeps it   ● red deletes   Back leaves it unchanged")
        color: Theme.dimText; font.family: Theme.family; font.pixelSize: 16
    }
}
