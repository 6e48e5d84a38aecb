import QtQuick
import Hubris.Native

// The viewer's recordings (network DVR): up/down choose, channel up/down page, OK plays (from where the viewer left
// off), green offers how long to keep it (left/right and OK: a week, a month, until the viewer
// deletes it, or not kept), red deletes (pressed twice), yellow the upcoming recordings. Each row
// says what retention does with it ("kept until Mon 14 Dec"). Red on one being recorded offers
// both: red again deletes it, green stops it and keeps what is recorded.
Rectangle {
    id: page
    objectName: "recordingsPage"
    signal closed()
    signal play()
    signal openUpcoming()

    property int confirmDelete: -1 // the row red was pressed on once
    // Green's choice of how long to keep the focused recording: the one chosen, -1 while closed.
    property int keepChoice: -1
    readonly property var keepChoices: [
        { label: qsTr("Keep 1 week"), days: 7 },
        { label: qsTr("Keep 1 month"), days: 30 },
        { label: qsTr("Keep until I delete it"), days: 0 },
        { label: qsTr("Don't keep"), days: -1 }
    ]
    function currentItem() { return list.count > 0 ? Dvr.recordings.get(list.currentIndex) : ({}) }

    function open() { confirmDelete = -1; keepChoice = -1; Dvr.refresh(); if (list.currentIndex < 0 && list.count > 0) list.currentIndex = 0 }
    // While the keep choice is open: left/right choose, OK keeps so, Back or green close it; any
    // other key closes it and does what it does.
    function handleKeepChoice(action) {
        switch (action) {
        case RemoteKeys.Left: keepChoice = Math.max(0, keepChoice - 1); return true
        case RemoteKeys.Right: keepChoice = Math.min(keepChoices.length - 1, keepChoice + 1); return true
        case RemoteKeys.Ok: {
            const r = currentItem()
            const days = keepChoices[keepChoice].days
            if (r.recordingId !== undefined) {
                if (days < 0) Dvr.setKept(r.recordingId, false)
                else Dvr.keepFor(r.recordingId, days)
            }
            keepChoice = -1
            return true
        }
        case RemoteKeys.Back: case RemoteKeys.Green: keepChoice = -1; return true
        }
        keepChoice = -1
        return false
    }
    // Channel up/down: a page of rows (as many as the list shows) up or down.
    function pageBy(direction) {
        // The rows on screen: from the top edge, and up from the bottom edge past the spacing
        // between rows (or the empty space below a short list).
        const first = list.indexAt(1, list.contentY + 1)
        let last = -1
        for (let y = list.contentY + list.height - 1; last < 0 && y > list.contentY; y -= list.spacing + 1)
            last = list.indexAt(1, y)
        const rows = first >= 0 && last > first ? last - first : 1
        list.currentIndex = Math.max(0, Math.min(list.count - 1, list.currentIndex + direction * rows))
        confirmDelete = -1
    }
    function handle(action) {
        if (keepChoice >= 0 && handleKeepChoice(action)) return true
        if (action === RemoteKeys.Green && confirmDelete >= 0 && confirmDelete === list.currentIndex && currentItem().state === "recording") {
            Dvr.stopRecording(currentItem().recordingId)
            confirmDelete = -1
            return true
        }
        if (action !== RemoteKeys.Red) confirmDelete = -1
        switch (action) {
        case RemoteKeys.Up: list.decrementCurrentIndex(); confirmDelete = -1; return true
        case RemoteKeys.Down: list.incrementCurrentIndex(); confirmDelete = -1; return true
        case RemoteKeys.ChannelUp: pageBy(-1); return true
        case RemoteKeys.ChannelDown: pageBy(1); return true
        case RemoteKeys.Ok: case RemoteKeys.PlayPause:
            if (list.count > 0 && Playback.playRecording(list.currentIndex)) page.play()
            return true
        case RemoteKeys.Green: {
            // Opens on what it is now: kept for good, or the first choice.
            const r = currentItem()
            if (r.recordingId !== undefined) keepChoice = r.kept && r.keepUntil === 0 ? 2 : 0
            return true
        }
        case RemoteKeys.Red:
            if (currentItem().recordingId === undefined) return true
            if (confirmDelete === list.currentIndex) { Dvr.deleteRecording(currentItem().recordingId); confirmDelete = -1 }
            else confirmDelete = list.currentIndex
            return true
        case RemoteKeys.Yellow: page.openUpcoming(); return true
        case RemoteKeys.Back: page.closed(); return true
        }
        return false
    }
    color: Theme.background

    Text {
        id: heading
        textFormat: Text.PlainText
        x: Theme.margin; y: 24
        text: qsTr("Recordings")
        color: Theme.text
        font.family: Theme.family; font.pixelSize: Theme.fontLarge; font.bold: true
    }
    Text {
        textFormat: Text.PlainText
        anchors.right: parent.right; anchors.rightMargin: Theme.margin; anchors.baseline: heading.baseline
        text: Dvr.recordings.count === 1 ? qsTr("1 recording") : qsTr("%1 recordings").arg(Dvr.recordings.count)
        color: Theme.dimText
        font.family: Theme.family; font.pixelSize: Theme.fontNormal
    }
    ListView {
        id: list
        objectName: "recordingsList"
        anchors.top: heading.bottom; anchors.topMargin: 20; anchors.bottomMargin: 12
        anchors.bottom: detail.visible ? detail.top : keepRow.visible ? keepRow.top : hint.top
        x: Theme.margin; width: parent.width - 2 * Theme.margin
        clip: true
        spacing: 6
        model: Dvr.recordings
        highlightMoveDuration: 60
        delegate: Rectangle {
            id: row
            required property int index
            required property string title
            required property string when
            required property string channelName
            required property var start
            required property var recordStart
            required property string state
            required property string reason
            required property string missing
            required property bool kept
            required property string keepText
            required property var position
            required property var duration
            readonly property bool current: ListView.isCurrentItem
            width: list.width; height: 84; radius: 6
            color: current ? Theme.cellNow : Theme.cell
            border.color: current ? Theme.focus : "transparent"; border.width: Theme.focusWidth
            Column {
                // A little above the middle: the bar of how far it was watched goes below, not through the date.
                x: 20; anchors.verticalCenter: parent.verticalCenter; anchors.verticalCenterOffset: -5; width: parent.width - 60 - status.width; spacing: 4
                Text { textFormat: Text.PlainText; width: parent.width; elide: Text.ElideRight; text: row.title
                       color: Theme.text; font.family: Theme.family; font.pixelSize: Theme.fontNormal; font.bold: row.current }
                Text { textFormat: Text.PlainText; width: parent.width; elide: Text.ElideRight
                       // Begun after the programme (REC while it was on, or the archive began later): from when.
                       text: row.when + (row.recordStart > row.start + 60 ? qsTr(" · recorded from %1").arg(Qt.formatTime(new Date(row.recordStart * 1000), "hh:mm")) : "")
                             + "   " + row.channelName + (row.reason.length > 0 ? "   " + row.reason : "")
                       color: Theme.dimText; font.family: Theme.family; font.pixelSize: Theme.fontSmall }
            }
            Row {
                id: status
                anchors.right: parent.right; anchors.rightMargin: 20; anchors.verticalCenter: parent.verticalCenter
                spacing: 14
                // What retention does with it: kept (until when), or when it is deleted.
                Text { textFormat: Text.PlainText; visible: row.keepText.length > 0; text: row.keepText; color: row.kept ? Theme.accent : Theme.dimText
                       font.family: Theme.family; font.pixelSize: Theme.fontSmall }
                Text {
                    textFormat: Text.PlainText
                    // A partial recording (its channel's archive stopped short) says so, whether watched or not.
                    text: row.state === "recording" ? qsTr("● recording") : row.state === "failed" ? qsTr("failed")
                          : (row.state === "partial" ? qsTr("partial") + (row.position > 0 ? " · " : "") : "")
                            + (row.position > 0 ? qsTr("%1% watched").arg(Math.min(100, Math.round(100 * row.position / Math.max(1, row.duration))))
                               : row.state === "partial" ? "" : qsTr("new"))
                    color: row.state === "recording" || row.state === "failed" || row.state === "partial" ? Theme.error : Theme.dimText
                    font.family: Theme.family; font.pixelSize: Theme.fontSmall
                }
            }
            Rectangle { // how far it was watched
                anchors.bottom: parent.bottom; anchors.bottomMargin: Theme.focusWidth + 2; x: 20
                height: 4; radius: 2; color: Theme.accent
                width: (parent.width - 40) * Math.min(1, row.position / Math.max(1, row.duration))
            }
        }
    }
    Column {
        anchors.centerIn: list
        visible: list.count === 0
        spacing: 10
        Text { textFormat: Text.PlainText; anchors.horizontalCenter: parent.horizontalCenter
               text: Dvr.status.length > 0 ? qsTr("Recordings are unavailable") : qsTr("No recordings yet")
               color: Theme.text; font.family: Theme.family; font.pixelSize: Theme.fontLarge }
        Text { textFormat: Text.PlainText; anchors.horizontalCenter: parent.horizontalCenter
               width: Math.min(implicitWidth, page.width - 4 * Theme.margin); wrapMode: Text.Wrap; horizontalAlignment: Text.AlignHCenter
               text: Dvr.status.length > 0 ? Dvr.status : qsTr("Record from the guide: REC on a programme, or green in its details")
               color: Theme.dimText; font.family: Theme.family; font.pixelSize: Theme.fontNormal }
    }
    Text {
        textFormat: Text.PlainText
        // The focused recording's details when something is missing of it (a partial one, or one
        // with gaps): what, and why, in full.
        id: detail
        objectName: "recordingsDetail"
        anchors.bottom: keepRow.visible ? keepRow.top : hint.top; anchors.bottomMargin: 10; x: Theme.margin
        width: parent.width - 2 * Theme.margin; wrapMode: Text.Wrap; maximumLineCount: 2; elide: Text.ElideRight
        readonly property var current: list.currentItem
        visible: text.length > 0
        text: current === null || current.missing.length === 0 ? ""
              : (current.state === "partial" ? qsTr("Partial: %1 missing").arg(current.missing) : qsTr("Missing: %1").arg(current.missing))
                + (current.reason.length > 0 ? " · " + current.reason : "")
        color: Theme.text; font.family: Theme.family; font.pixelSize: Theme.fontSmall
    }
    Row {
        // Green's choice of how long to keep the focused recording.
        id: keepRow
        objectName: "keepChoices"
        anchors.bottom: hint.top; anchors.bottomMargin: 10; x: Theme.margin
        spacing: 12
        visible: page.keepChoice >= 0
        readonly property string chosen: visible ? page.keepChoices[page.keepChoice].label : ""
        Repeater {
            model: page.keepChoices
            delegate: Rectangle {
                required property int index
                required property var modelData
                readonly property bool current: index === page.keepChoice
                width: label.implicitWidth + 36; height: label.implicitHeight + 18; radius: 6
                color: current ? Theme.cellNow : Theme.cell
                border.color: current ? Theme.focus : "transparent"; border.width: Theme.focusWidth
                Text { textFormat: Text.PlainText; id: label; anchors.centerIn: parent; text: modelData.label; color: Theme.text
                       font.family: Theme.family; font.pixelSize: Theme.fontSmall; font.bold: parent.current }
            }
        }
    }
    Text {
        id: hint
        objectName: "recordingsHint"
        anchors.bottom: parent.bottom; anchors.bottomMargin: 16; x: Theme.margin
        width: parent.width - 2 * Theme.margin; elide: Text.ElideRight
        readonly property bool recording: list.currentItem !== null && list.currentItem.state === "recording"
        // Green offers how long to keep it (or not).
        readonly property string keep: qsTr("● green keep…")
        textFormat: Text.StyledText
        text: Theme.keys(page.keepChoice >= 0 ? qsTr("◀ ▶ how long   OK “%1”   Back cancel").arg(keepRow.chosen)
              : page.confirmDelete >= 0 && recording
              ? qsTr("● green stops recording “%1” and keeps it   ● red again deletes it   any other key: nothing").arg(list.currentItem.title)
              : page.confirmDelete >= 0 ? qsTr("● red again deletes “%1”   any other key keeps it").arg(list.currentItem ? list.currentItem.title : "")
              : recording ? qsTr("OK play   ● red stop or delete   %1   ● yellow upcoming   CH+/CH− page   Back close").arg(keep)
              : qsTr("OK play   %1   ● red delete   ● yellow upcoming   CH+/CH− page   Back close").arg(keep))
        color: page.confirmDelete >= 0 ? Theme.error : Theme.dimText
        font.family: Theme.family; font.pixelSize: 18
    }
}
