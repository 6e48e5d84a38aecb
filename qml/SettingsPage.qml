import QtQuick
import Hubris.Native

// Settings: up/down choose a row, left/right change a choice, OK edits a server (on-screen
// keyboard), refreshes the guide or opens the parental control (after the PIN). About says what
// the box is and how old its guide is.
Rectangle {
    id: page
    objectName: "settingsPage"
    signal closed()
    signal editText(string key, string title, string value)
    signal openParental()
    signal refreshed()

    readonly property var rows: ["theme", "volume", "audio", "subtitles", "guideServer", "controlServer",
                                 "refresh", "refreshNow", "parental"]
    property int current: 0
    readonly property string currentRow: rows[current]
    function open() { current = 0 }
    function cycle(list, value, step) {
        const i = list.indexOf(value)
        return list[((i < 0 ? 0 : i) + step + list.length) % list.length]
    }
    function change(step) {
        switch (currentRow) {
        case "theme": Theme.highContrast = !Theme.highContrast; break
        case "volume": Hal.changeVolume(5 * step); break
        case "audio": Settings.audioLanguage = cycle(Settings.languageCodes(), Settings.audioLanguage, step); break
        case "subtitles": Settings.subtitleLanguage = cycle(Settings.languageCodes(), Settings.subtitleLanguage, step); break
        case "refresh": Settings.refreshMinutes = cycle(Settings.refreshChoices(), Settings.refreshMinutes, step); break
        }
    }
    function handle(action) {
        switch (action) {
        case RemoteKeys.Up: current = (current + rows.length - 1) % rows.length; return true
        case RemoteKeys.Down: current = (current + 1) % rows.length; return true
        case RemoteKeys.Left: change(-1); return true
        case RemoteKeys.Right: change(1); return true
        case RemoteKeys.Ok:
            if (currentRow === "guideServer")
                page.editText("guideServer", qsTr("Guide server"), GuideStore.server)
            else if (currentRow === "controlServer")
                page.editText("controlServer", qsTr("Control server"), Shell.linked ? Link.server : Settings.controlServer)
            else if (currentRow === "refreshNow") { GuideStore.refreshNow(); page.refreshed() }
            else if (currentRow === "parental") page.openParental()
            else change(1)
            return true
        case RemoteKeys.Back: case RemoteKeys.Menu: page.closed(); return true
        }
        return false
    }
    function value(row) {
        switch (row) {
        case "theme": return Theme.highContrast ? qsTr("High contrast") : qsTr("Dark")
        case "volume": return Hal.muted ? qsTr("Muted") : String(Hal.volume)
        case "audio": return Settings.languageName(Settings.audioLanguage)
        case "subtitles": return Settings.subtitleLanguage === "" ? qsTr("Off") : Settings.languageName(Settings.subtitleLanguage)
        case "guideServer": return GuideStore.server
        case "controlServer":
            return Settings.controlServer !== "" ? Settings.controlServer : (Shell.linked ? Link.server : qsTr("None"))
        case "refresh": return qsTr("Every %n min", "", Settings.refreshMinutes)
        case "refreshNow": return GuideStore.offline ? qsTr("Offline") : ""
        case "parental":
            return (Parental.ratingLimit > 0 ? qsTr("From %1").arg(Parental.ratingLimit) : qsTr("No rating lock"))
                   + " · " + (Parental.lockedChannelCount === 0 ? qsTr("no channel locked")
                              : Parental.lockedChannelCount === 1 ? qsTr("1 channel locked")
                              : qsTr("%1 channels locked").arg(Parental.lockedChannelCount))
        }
        return ""
    }
    readonly property var labels: ({
        theme: qsTr("Theme"), volume: qsTr("Volume"), audio: qsTr("Audio language"), subtitles: qsTr("Subtitles"),
        guideServer: qsTr("Guide server"), controlServer: qsTr("Control server"), refresh: qsTr("Guide refresh"),
        refreshNow: qsTr("Refresh the guide now"), parental: qsTr("Parental control")
    })
    readonly property var choices: ["theme", "volume", "audio", "subtitles", "refresh"]

    color: Theme.background
    Text {
        id: heading
        textFormat: Text.PlainText
        x: Theme.margin; y: 28
        text: qsTr("Settings")
        color: Theme.text; font.family: Theme.family; font.pixelSize: Theme.fontLarge; font.bold: true
    }
    Column {
        id: list
        x: Theme.margin; anchors.top: heading.bottom; anchors.topMargin: 18
        width: 720
        spacing: 8
        Repeater {
            model: page.rows
            Rectangle {
                id: rowItem
                required property int index
                required property string modelData
                readonly property bool focused: page.current === index
                width: list.width; height: 56; radius: 6
                color: focused ? Theme.cellNow : Theme.cell
                border.color: focused ? Theme.focus : "transparent"; border.width: Theme.focusWidth
                Text {
                    id: label
                    textFormat: Text.PlainText
                    x: 18; anchors.verticalCenter: parent.verticalCenter
                    text: page.labels[rowItem.modelData]
                    color: Theme.text; font.family: Theme.family; font.pixelSize: Theme.fontNormal
                }
                Text {
                    textFormat: Text.PlainText
                    anchors.right: parent.right; anchors.rightMargin: 18; anchors.verticalCenter: parent.verticalCenter
                    width: parent.width - label.implicitWidth - 60
                    horizontalAlignment: Text.AlignRight
                    elide: Text.ElideLeft
                    readonly property bool choice: page.choices.indexOf(rowItem.modelData) >= 0
                    text: choice && rowItem.focused ? "◀  " + page.value(rowItem.modelData) + "  ▶"
                                                    : page.value(rowItem.modelData) + (choice || !rowItem.focused ? "" : "  OK")
                    color: Theme.accent; font.family: Theme.family; font.pixelSize: Theme.fontSmall
                }
            }
        }
    }
    Rectangle {
        id: about
        anchors.left: list.right; anchors.leftMargin: 32
        anchors.right: parent.right; anchors.rightMargin: Theme.margin
        anchors.top: list.top
        height: aboutText.implicitHeight + 80
        radius: 8
        color: Theme.cell
        Text {
            textFormat: Text.PlainText
            x: 20; y: 16
            text: qsTr("About")
            color: Theme.text; font.family: Theme.family; font.pixelSize: Theme.fontNormal; font.bold: true
        }
        Text {
            id: aboutText
            textFormat: Text.PlainText
            x: 20; y: 58; width: parent.width - 40
            wrapMode: Text.Wrap
            lineHeight: 1.25
            text: qsTr("Hubris %1").arg(Shell.version) + "\n"
                  + qsTr("Model: %1").arg(Hal.model) + "\n"
                  + qsTr("Serial: %1").arg(Shell.serial) + "\n"
                  + qsTr("%n channel(s)", "", GuideStore.channelCount) + "\n"
                  + GuideStore.ageText + "\n"
                  + (Shell.linked ? (Link.online ? qsTr("Control server: connected as box %1").arg(Link.boxId)
                                                 : qsTr("Control server: not connected"))
                                  : qsTr("Control server: none"))
                  + (Settings.controlServer !== "" && (!Shell.linked || Settings.controlServer !== Link.server)
                     ? "\n" + qsTr("The new control server is used after a restart") : "")
                  + (Settings.audioLanguage !== "" || Settings.subtitleLanguage !== ""
                     ? "\n" + qsTr("Languages are kept; this player plays the stream's own tracks") : "")
            color: Theme.dimText; font.family: Theme.family; font.pixelSize: 18
        }
    }
}
