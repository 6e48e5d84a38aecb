import QtQuick
import Hubris.Native

// Parental control, opened from the settings after the PIN: change the PIN, the rating lock
// (left/right), and lock or unlock channels (OK on a channel). Leaving locks the session again,
// so what was just locked is hidden at once.
Rectangle {
    id: page
    objectName: "parentalPage"
    signal closed()
    signal changePin()
    property int current: 0          // 0: PIN, 1: rating, 2...: channels
    readonly property int count: 2 + Channels.count
    function open() { current = 0; channelList.positionViewAtBeginning() }
    function handle(action) {
        switch (action) {
        case RemoteKeys.Up: current = Math.max(0, current - 1); sync(); return true
        case RemoteKeys.Down: current = Math.min(count - 1, current + 1); sync(); return true
        case RemoteKeys.ChannelUp: current = Math.max(0, current - 8); sync(); return true
        case RemoteKeys.ChannelDown: current = Math.min(count - 1, current + 8); sync(); return true
        case RemoteKeys.Left: case RemoteKeys.Right:
            if (current === 1) Parental.stepRatingLimit(action === RemoteKeys.Left ? -1 : 1)
            return true
        case RemoteKeys.Ok:
            if (current === 0) page.changePin()
            else if (current === 1) Parental.stepRatingLimit(1)
            else Parental.toggleChannelLock(current - 2)
            return true
        case RemoteKeys.Back: case RemoteKeys.Menu:
            Parental.lock()
            page.closed()
            return true
        }
        return false
    }
    function sync() { if (current >= 2) channelList.currentIndex = current - 2 }

    color: Theme.background
    Text {
        id: heading
        textFormat: Text.PlainText
        x: Theme.margin; y: 28
        text: qsTr("Parental control")
        color: Theme.text; font.family: Theme.family; font.pixelSize: Theme.fontLarge; font.bold: true
    }
    component Choice: Rectangle {
        property int row
        property string label
        property string value
        property bool arrows: false
        readonly property bool focused: page.current === row
        width: 720; height: 56; radius: 6
        color: focused ? Theme.cellNow : Theme.cell
        border.color: focused ? Theme.focus : "transparent"; border.width: Theme.focusWidth
        Text { textFormat: Text.PlainText; x: 18; anchors.verticalCenter: parent.verticalCenter; text: parent.label
               color: Theme.text; font.family: Theme.family; font.pixelSize: Theme.fontNormal }
        Text { textFormat: Text.PlainText; anchors.right: parent.right; anchors.rightMargin: 18; anchors.verticalCenter: parent.verticalCenter
               text: parent.arrows && parent.focused ? "◀  " + parent.value + "  ▶" : parent.value
               color: Theme.accent; font.family: Theme.family; font.pixelSize: Theme.fontSmall }
    }
    Column {
        id: top
        x: Theme.margin; anchors.top: heading.bottom; anchors.topMargin: 18
        spacing: 8
        Choice { row: 0; label: qsTr("Change the PIN"); value: Parental.defaultPin ? qsTr("Still the default 0000") : qsTr("OK") }
        Choice { row: 1; label: qsTr("Rating lock"); arrows: true
                 value: Parental.ratingLimit > 0 ? qsTr("Rated %1 and over").arg(Parental.ratingLimit) : qsTr("Off") }
        Text {
            textFormat: Text.PlainText
            topPadding: 12
            text: qsTr("Locked channels · OK locks or unlocks")
            color: Theme.dimText; font.family: Theme.family; font.pixelSize: Theme.fontSmall
        }
    }
    ListView {
        id: channelList
        x: Theme.margin; anchors.top: top.bottom; anchors.topMargin: 8
        width: 720; anchors.bottom: parent.bottom; anchors.bottomMargin: Theme.margin
        clip: true
        model: Channels
        currentIndex: 0
        highlightMoveDuration: 60
        delegate: Rectangle {
            id: channelRow
            required property int index
            required property int number
            required property string name
            readonly property bool focused: page.current === index + 2
            readonly property bool locked: Parental.lockedChannelCount >= 0 && Parental.isChannelLocked(index)
            width: ListView.view.width; height: 52; radius: 6
            color: focused ? Theme.cellNow : "transparent"
            border.color: focused ? Theme.focus : "transparent"; border.width: Theme.focusWidth
            Text { textFormat: Text.PlainText; x: 18; anchors.verticalCenter: parent.verticalCenter; width: 70; text: channelRow.number
                   color: Theme.accent; font.family: Theme.family; font.pixelSize: Theme.fontNormal; font.bold: true }
            Text { textFormat: Text.PlainText; x: 96; anchors.verticalCenter: parent.verticalCenter; text: channelRow.name
                   color: Theme.text; font.family: Theme.family; font.pixelSize: Theme.fontNormal }
            Row {
                anchors.right: parent.right; anchors.rightMargin: 18; anchors.verticalCenter: parent.verticalCenter
                spacing: 10
                visible: channelRow.locked
                LockIcon { anchors.verticalCenter: parent.verticalCenter; color: Theme.error }
                Text { textFormat: Text.PlainText; text: qsTr("Locked"); color: Theme.error; font.family: Theme.family; font.pixelSize: Theme.fontSmall }
            }
        }
    }
    Text {
        textFormat: Text.PlainText
        anchors.left: channelList.right; anchors.leftMargin: 40
        anchors.right: parent.right; anchors.rightMargin: Theme.margin
        y: top.y
        wrapMode: Text.Wrap
        lineHeight: 1.3
        text: qsTr("A locked channel does not play until the PIN is entered, and locked channels and programmes are hidden from the guide and from search.")
              + "\n\n" + qsTr("The PIN unlocks them until the box goes to standby. Five wrong PINs in a row lock the PIN out for five minutes.")
              + "\n\n" + qsTr("Back locks again and leaves.")
        color: Theme.dimText; font.family: Theme.family; font.pixelSize: 18
    }
}
