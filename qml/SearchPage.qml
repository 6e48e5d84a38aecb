import QtQuick
import Hubris.Native

// Search as you type with the remote alone: an on-screen keyboard (arrows, OK types), digits
// type digits, red deletes, green toggles "new only"; the results update on every key. Right of
// the keyboard's last column, or Down from its last row, goes to the results; OK there opens the
// programme.
Rectangle {
    id: page
    objectName: "searchPage"
    signal closed()
    signal openDetails(int airing)

    readonly property var keys: ["A","B","C","D","E","F","G","H","I","J","K","L","M","N","O","P","Q","R","S","T","U","V","W","X","Y","Z","1","2","3","4","5","6","7","8","9","0","␣","⌫","✕"]
    property bool inResults: false

    color: Theme.background
    function open() { inResults = false; keyboard.keyIndex = 0 }
    function press(k) {
        if (k === "␣") Search.append(" ")
        else if (k === "⌫") Search.backspace()
        else if (k === "✕") Search.clear()
        else Search.append(k.toLowerCase())
    }
    function type(text) { Search.append(text.toLowerCase()) }
    function handle(action) {
        const d = Remote.digitOf(action)
        if (d >= 0) { Search.append(String(d)); return true }
        switch (action) {
        case RemoteKeys.Red: Search.backspace(); return true
        case RemoteKeys.Green: Search.newOnly = !Search.newOnly; return true
        case RemoteKeys.Back:
            if (inResults) { inResults = false; return true }
            page.closed(); return true
        }
        if (inResults) {
            switch (action) {
            case RemoteKeys.Up: if (results.currentIndex === 0) inResults = false; else results.decrementCurrentIndex(); return true
            case RemoteKeys.Down: results.incrementCurrentIndex(); return true
            case RemoteKeys.Left: inResults = false; return true
            case RemoteKeys.Ok: if (results.count > 0) page.openDetails(results.currentItem.airingIndex); return true
            }
            return true
        }
        return keyboard.handle(action)
    }
    function clock(t) { return Qt.formatDateTime(new Date(t * 1000), "ddd hh:mm") }

    Text {
        textFormat: Text.PlainText
        x: Theme.margin; y: 28
        text: qsTr("Search")
        color: Theme.text; font.family: Theme.family; font.pixelSize: Theme.fontLarge; font.bold: true
    }
    Rectangle {
        id: field
        x: Theme.margin; y: 84
        width: 7 * 62 - 6; height: 56; radius: 6
        color: Theme.cell
        Text {
            textFormat: Text.PlainText
            x: 14; anchors.verticalCenter: parent.verticalCenter
            width: parent.width - 28; elide: Text.ElideLeft
            text: Search.query.length > 0 ? Search.query + "▏" : qsTr("Type with the remote…")
            color: Search.query.length > 0 ? Theme.text : Theme.dimText
            font.family: Theme.family; font.pixelSize: Theme.fontNormal
        }
    }
    OnScreenKeyboard {
        id: keyboard
        x: Theme.margin; anchors.top: field.bottom; anchors.topMargin: 16
        keys: page.keys
        active: !page.inResults
        onPressed: (key) => page.press(key)
        onExitRight: if (results.count > 0) page.inResults = true
        onExitDown: if (results.count > 0) page.inResults = true
    }
    Text {
        textFormat: Text.PlainText
        x: Theme.margin; anchors.top: keyboard.bottom; anchors.topMargin: 18
        width: field.width; wrapMode: Text.Wrap
        text: (Search.newOnly ? qsTr("New only · ") : "") + qsTr("%n programme(s)", "", Search.total)
              + qsTr("   ● red delete   ● green new only")
        color: Theme.dimText; font.family: Theme.family; font.pixelSize: 16
    }
    ListView {
        id: results
        x: field.x + field.width + Theme.margin; y: 84
        width: parent.width - x - Theme.margin; height: parent.height - y - Theme.margin
        clip: true
        model: Search
        currentIndex: 0
        highlightMoveDuration: 60
        delegate: Rectangle {
            required property int index
            required property int airing
            required property string title
            required property string channelName
            required property int channelNumber
            required property var start
            required property bool isNew
            readonly property int airingIndex: airing
            readonly property bool focused: page.inResults && ListView.isCurrentItem
            width: ListView.view.width; height: 70; radius: 6
            color: focused ? Theme.cellNow : (index % 2 ? "transparent" : Theme.cell)
            border.color: focused ? Theme.focus : "transparent"; border.width: Theme.focusWidth
            Column {
                x: 14; anchors.verticalCenter: parent.verticalCenter; width: parent.width - 28
                Text { textFormat: Text.PlainText; width: parent.width; elide: Text.ElideRight; text: (isNew ? "● " : "") + title
                       color: Theme.text; font.family: Theme.family; font.pixelSize: Theme.fontNormal }
                Text { textFormat: Text.PlainText; width: parent.width; elide: Text.ElideRight
                       text: page.clock(start) + "   " + channelNumber + " " + channelName
                       color: Theme.dimText; font.family: Theme.family; font.pixelSize: Theme.fontSmall }
            }
        }
    }
}
