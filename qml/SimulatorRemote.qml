import QtQuick
import Hubris.Native

// The simulator's on-screen remote: every button sends the same action a real remote's key does.
Rectangle {
    id: remote
    signal pressed(int action)
    width: 220
    color: "#2a2a2a"
    radius: 24

    component RemoteButton: Rectangle {
        property int action
        property string label
        property color tint: "#444"
        width: 56; height: 40; radius: 8
        color: area.pressed ? Qt.lighter(tint) : tint
        Text { textFormat: Text.PlainText; anchors.centerIn: parent; text: parent.label; color: "white"; font.pixelSize: 15; font.family: Theme.family }
        MouseArea { id: area; anchors.fill: parent; onClicked: remote.pressed(parent.action) }
    }

    Column {
        anchors.horizontalCenter: parent.horizontalCenter
        y: 20
        spacing: 10
        Row { spacing: 8; anchors.horizontalCenter: parent.horizontalCenter
            RemoteButton { action: RemoteKeys.Power; label: "power"; tint: "#a33" }
            RemoteButton { action: RemoteKeys.Mute; label: "mute" }
            RemoteButton { action: RemoteKeys.Menu; label: "menu" } }
        Row { spacing: 8; anchors.horizontalCenter: parent.horizontalCenter
            RemoteButton { action: RemoteKeys.Guide; label: "guide" }
            RemoteButton { action: RemoteKeys.Up; label: "▲" }
            RemoteButton { action: RemoteKeys.Info; label: "info" } }
        Row { spacing: 8; anchors.horizontalCenter: parent.horizontalCenter
            RemoteButton { action: RemoteKeys.Left; label: "◀" }
            RemoteButton { action: RemoteKeys.Ok; label: "OK"; tint: "#36c" }
            RemoteButton { action: RemoteKeys.Right; label: "▶" } }
        Row { spacing: 8; anchors.horizontalCenter: parent.horizontalCenter
            RemoteButton { action: RemoteKeys.Back; label: "back" }
            RemoteButton { action: RemoteKeys.Down; label: "▼" }
            RemoteButton { action: RemoteKeys.PreviousChannel; label: "prev" } }
        Row { spacing: 8; anchors.horizontalCenter: parent.horizontalCenter
            RemoteButton { action: RemoteKeys.VolumeUp; label: "vol+" }
            RemoteButton { action: RemoteKeys.ChannelUp; label: "ch+" } }
        Row { spacing: 8; anchors.horizontalCenter: parent.horizontalCenter
            RemoteButton { action: RemoteKeys.VolumeDown; label: "vol−" }
            RemoteButton { action: RemoteKeys.ChannelDown; label: "ch−" } }
        Row { spacing: 8; anchors.horizontalCenter: parent.horizontalCenter
            RemoteButton { action: RemoteKeys.Record; label: "● rec"; tint: "#833" }
            RemoteButton { action: RemoteKeys.PlayPause; label: "play ‖" } }
        Grid {
            columns: 3; spacing: 8; anchors.horizontalCenter: parent.horizontalCenter
            Repeater {
                model: [1, 2, 3, 4, 5, 6, 7, 8, 9]
                RemoteButton { required property int modelData; action: RemoteKeys.Digit0 + modelData; label: modelData }
            }
        }
        RemoteButton { action: RemoteKeys.Digit0; label: "0"; anchors.horizontalCenter: parent.horizontalCenter }
        Row { spacing: 4; anchors.horizontalCenter: parent.horizontalCenter
            RemoteButton { width: 44; action: RemoteKeys.Red; label: ""; tint: "#c33" }
            RemoteButton { width: 44; action: RemoteKeys.Green; label: ""; tint: "#3a3" }
            RemoteButton { width: 44; action: RemoteKeys.Yellow; label: ""; tint: "#cc3" }
            RemoteButton { width: 44; action: RemoteKeys.Blue; label: ""; tint: "#33c" } }
    }
}
