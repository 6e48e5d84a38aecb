import QtQuick
import Hubris.Native

// One programme: title, when, where, episode and description. OK watches it when it is on now.
Rectangle {
    id: page
    signal closed()
    property var info: ({})
    property bool reminderSet: false
    function show(airing) { info = GuideGrid.details(airing); reminderSet = Reminders.isSet(airing) }
    readonly property bool onNow: info.start !== undefined && info.start <= GuideGrid.now() && GuideGrid.now() < info.stop
    function handle(action) {
        switch (action) {
        case RemoteKeys.Ok:
            if (onNow) { Zapper.tune(info.channel); page.closed(); page.watch() }
            return true
        case RemoteKeys.Red:
            if (!onNow && info.airing !== undefined) reminderSet = Reminders.toggle(info.airing)
            return true
        case RemoteKeys.Back: case RemoteKeys.Info: page.closed(); return true
        }
        return false
    }
    signal watch()
    color: Theme.background
    function clock(t) { return Qt.formatTime(new Date(t * 1000), "hh:mm") }

    Column {
        x: Theme.margin * 2; y: Theme.margin * 2
        width: parent.width - 4 * Theme.margin
        spacing: 16
        Text {
            width: parent.width; wrapMode: Text.Wrap
            text: page.info.title || ""
            color: Theme.text
            font.family: Theme.family; font.pixelSize: Theme.fontHuge; font.bold: true
        }
        Text {
            width: parent.width; wrapMode: Text.Wrap
            visible: text.length > 0
            text: [page.info.subTitle, page.info.episode].filter(s => s && s.length > 0).join("  ·  ")
            color: Theme.dimText
            font.family: Theme.family; font.pixelSize: Theme.fontNormal
        }
        Text {
            text: page.info.start === undefined ? "" :
                  Qt.formatDate(new Date(page.info.start * 1000), "ddd d MMM") + "  " + page.clock(page.info.start) + "–"
                  + page.clock(page.info.stop) + "   " + page.info.channelNumber + " " + page.info.channelName
                  + (page.info.category ? "   " + page.info.category : "")
            color: Theme.accent
            font.family: Theme.family; font.pixelSize: Theme.fontNormal
        }
        Text {
            width: parent.width; wrapMode: Text.Wrap
            maximumLineCount: 9; elide: Text.ElideRight
            text: page.info.description || qsTr("No description")
            color: Theme.text
            font.family: Theme.family; font.pixelSize: Theme.fontNormal
            lineHeight: 1.2
        }
    }
    Text {
        anchors.bottom: parent.bottom; anchors.bottomMargin: Theme.margin * 2 + 14; x: Theme.margin * 2
        visible: !page.onNow && page.info.start !== undefined && page.info.start > GuideGrid.now()
        text: page.reminderSet ? qsTr("● Reminder set · red removes it") : qsTr("● red: remind me")
        color: page.reminderSet ? Theme.accent : Theme.dimText
        font.family: Theme.family; font.pixelSize: Theme.fontNormal
    }
    Rectangle {
        anchors.bottom: parent.bottom; anchors.bottomMargin: Theme.margin * 2; x: Theme.margin * 2
        width: watch.implicitWidth + 48; height: 60; radius: 8
        visible: page.onNow
        color: Theme.cellNow
        border.color: Theme.focus; border.width: Theme.focusWidth
        Text { id: watch; anchors.centerIn: parent; text: qsTr("Watch now"); color: Theme.text
               font.family: Theme.family; font.pixelSize: Theme.fontNormal }
    }
}
