// Every GraphQL document the client sends, in one place (so a reader sees the whole API
// surface the client depends on, and the server's complexity limits can be checked here).

export const USER = `fragment U on User { id username displayName avatarFileId }`;

export const MESSAGE = `fragment M on Message {
  id channelId pts senderId clientMsgId type createdAt revoked mentions mentionAll replyToId
  replyTo { id senderId preview revoked }
  content {
    __typename
    ... on TextContent { text }
    ... on SystemContent { text kind }
    ... on ImageContent { fileId width height thumbnailFileId caption mimeType }
    ... on FileContent { fileId name size mimeType }
    ... on AudioContent { fileId durationMs mimeType }
    ... on VideoContent { fileId durationMs width height thumbnailFileId mimeType }
    ... on LocationContent { latitude longitude title address }
    ... on CardContent { userId }
    ... on StickerContent { packageId stickerId fileId emoji }
  }
}`;

export const CONVERSATION = `fragment C on Conversation {
  channel { id kind pts title avatarFileId memberCount lastEventAt }
  peerId preview unreadCount readPts mentioned muted pinned
  lastMessage { ...M }
}`;

// Channel events: everything stored in a channel's log with the next pts. Thanks to the
// ChannelEvent interface the sync code reads `channelId` and `pts` of any of them,
// including kinds added to the server after this client was written.
export const CHANNEL_EVENT = `fragment CE on ChannelUpdate {
  __typename
  ... on ChannelEvent { channelId pts }
  ... on MessageEvent { message { ...M } }
  ... on MessageRevokedEvent { messageId revokedBy }
  ... on ReactionEvent { messageId userId emoji added }
  ... on PinEvent { messageId pinned }
  ... on GroupEvent { kind actorId }
  ... on GroupMemberRoleChangedEvent { userId role }
  ... on GroupMemberLeftEvent { userId }
  ... on GroupMemberRemovedEvent { userId }
}`;

// User updates: everything else that happens to the user, numbered by the user's seq.
export const USER_UPDATE = `fragment UU on UserUpdate {
  __typename
  ... on UserUpdateEvent { seq }
  ... on SessionRevokedEvent { sessionIds reason }
  ... on ChannelAddedEvent { channelId }
  ... on ChannelRemovedEvent { channelId reason }
  ... on ReadStateEvent { channels { channelId readPts } }
  ... on PeerReadEvent { channelId userId readPts }
  ... on ConversationSettingsEvent { channelId pinned hidden muted }
  ... on FriendRequestReceivedEvent { fromUserId user { ...U } }
  ... on FriendRequestAcceptedEvent { user { ...U } channelId }
  ... on FriendAddedEvent { user { ...U } channelId }
  ... on FriendRemovedEvent { userId }
  ... on StickerCollectionEvent { packageId added }
  ... on UserProfileChangedEvent { userId displayName avatarFileId profile { ...U bio } }
}`;

export const EVENTS = `subscription Events {
  events(input: {holdUntilReady: true}) {
    __typename
    ...CE
    ...UU
    ... on TypingEvent { channelId userId action expiresAt }
    ... on PresenceEvent { userId status lastSeenAt }
    ... on GroupReadEvent { channelId upToPts }
    ... on ResyncRequiredEvent { reason }
  }
}
${CHANNEL_EVENT}
${USER_UPDATE}
${MESSAGE}
${USER}`;

export const SYNC_UPDATES = `query Updates($since: Int!, $limit: Int!) {
  syncGetUpdates(input: {since: $since, limit: $limit}) { updates { ...UU } seq hasMore }
}
${USER_UPDATE}
${USER}`;

export const SYNC_CHANNEL_PTS = `query ChannelPts($since: Long!, $cursor: String) {
  syncBatchGetChannelPts(input: {changedSince: $since, cursor: $cursor, limit: 1000}) {
    channels { channelId pts readPts } nextCursor syncTime
  }
}`;

export const SYNC_DIFFERENCE = `query Difference($channelId: ID!, $fromPts: Int!) {
  syncGetDifference(input: {channelId: $channelId, fromPts: $fromPts, limit: 100}) {
    events { ...CE } pts nextFromPts isFinal tooLong
  }
}
${CHANNEL_EVENT}
${MESSAGE}`;

export const SESSION_READY = `mutation Ready { syncSessionReady { ok seq } }`;

export const CHANNEL_LIST = `query Conversations($cursor: String) {
  channelList(input: {cursor: $cursor, limit: 100}) { conversations { ...C } nextCursor }
}
${CONVERSATION}
${MESSAGE}`;

export const CHANNEL_INFO = `query Conversation($id: ID!) {
  channelInfo(input: {channelId: $id}) { conversation { ...C } }
}
${CONVERSATION}
${MESSAGE}`;

export const HISTORY = `query History($channelId: ID!, $beforePts: Int, $limit: Int!) {
  messageHistoryGet(input: {channelId: $channelId, beforePts: $beforePts, limit: $limit}) { messages { ...M } hasMore }
}
${MESSAGE}`;

export const SEND = `mutation Send($input: MessageSendInput!) { messageSend(input: $input) { message { ...M } } }
${MESSAGE}`;

export const REVOKE = `mutation Revoke($id: ID!) { messageRevoke(input: {messageId: $id}) { message { id revoked } } }`;

export const REACT_ADD = `mutation React($id: ID!, $emoji: String!) { messageReactionAdd(input: {messageId: $id, emoji: $emoji}) { changed } }`;
export const REACT_REMOVE = `mutation Unreact($id: ID!, $emoji: String!) { messageReactionRemove(input: {messageId: $id, emoji: $emoji}) { changed } }`;
export const REACTION_STATS = `query Reactions($ids: [ID!]!) {
  messageReactionStats(input: {messageIds: $ids}) { messages { messageId reactions { emoji count reactedByMe } } }
}`;

export const READ = `mutation Read($channelId: ID!, $pts: Int!) { messageStatusRead(input: {channelId: $channelId, pts: $pts}) { readPts unread } }`;
export const UNREAD = `query Unread($ids: [ID!]) { messageStatusCount(input: {channelIds: $ids}) { channels { channelId unread mentioned } } }`;
export const READ_STATS = `query ReadStats($id: ID!) { messageStatusReadStats(input: {messageId: $id}) { readCount unreadCount } }`;

export const TYPING = `mutation Typing($channelId: ID!, $action: TypingAction!) { presenceTyping(input: {channelId: $channelId, action: $action}) { expiresAt } }`;
export const PRESENCE_SUBSCRIBE = `mutation Watch($ids: [ID!]!) {
  presenceSubscribe(input: {userIds: $ids}) { presences { userId status lastSeenAt } }
}`;

export const USER_DETAIL = `query User($id: ID!) { accountUserDetail(input: {userId: $id}) { user { ...U } } }
${USER}`;

export const CONV_PIN = `mutation Pin($id: ID!, $on: Boolean!) { channelPin(input: {channelId: $id, pinned: $on}) { conversation { pinned } } }`;
export const CONV_MUTE = `mutation Mute($id: ID!, $on: Boolean!) { channelMute(input: {channelId: $id, muted: $on}) { conversation { muted } } }`;
export const DIRECT = `mutation Direct($userId: ID!) { channelDirectGetOrCreate(input: {userId: $userId}) { conversation { ...C } } }
${CONVERSATION}
${MESSAGE}`;

export const USER_SEARCH = `query FindUsers($q: String!) {
  accountSearchQuery(input: {query: $q, limit: 20}) { results { user { ...U } isFriend searchProof } }
}
${USER}`;
export const FRIENDS = `query Friends($cursor: String) {
  contactFriendList(input: {cursor: $cursor, limit: 100}) { friends { user { ...U } alias channelId } nextCursor }
}
${USER}`;
export const PENDING = `query Pending($direction: FriendRequestDirection!) {
  contactFriendPending(input: {direction: $direction, limit: 100}) { requests { id user { ...U } message createdAt } }
}
${USER}`;
// The search result's proof shows the server that this search found the user (source SEARCH).
export const FRIEND_APPLY = `mutation Apply($userId: ID!, $searchProof: String!, $message: String) {
  contactFriendApply(input: {userId: $userId, source: SEARCH, searchProof: $searchProof, message: $message}) { outcome channelId }
}`;
export const FRIEND_ACCEPT = `mutation Accept($userId: ID!) { contactFriendAccept(input: {userId: $userId}) { friend { channelId } } }`;
export const FRIEND_REJECT = `mutation Reject($userId: ID!) { contactFriendReject(input: {userId: $userId}) { request { id } } }`;

export const GROUP = `fragment G on Group { id name avatarFileId description ownerId memberCount myRole muted settings { muteAll membersMayInvite } }`;
export const GROUP_CREATE = `mutation CreateGroup($name: String!, $memberIds: [ID!]!) {
  groupGroupCreate(input: {name: $name, memberIds: $memberIds}) { group { ...G } refusedUserIds }
}
${GROUP}`;
export const GROUP_INFO = `query GroupInfo($id: ID!) { groupGroupInfo(input: {groupId: $id}) { group { ...G } } }
${GROUP}`;
export const GROUP_MEMBERS = `query Members($id: ID!, $cursor: String) {
  groupMemberList(input: {groupId: $id, cursor: $cursor, limit: 100}) {
    members { userId displayName role muted user { ...U } } nextCursor
  }
}
${USER}`;
export const GROUP_ADD = `mutation Invite($id: ID!, $userIds: [ID!]!) {
  groupMemberAdd(input: {groupId: $id, userIds: $userIds}) { addedUserIds pendingUserIds refusedUserIds }
}`;
export const GROUP_REMOVE = `mutation RemoveMember($id: ID!, $userId: ID!) { groupMemberRemove(input: {groupId: $id, userId: $userId}) { ok } }`;
export const GROUP_ROLE = `mutation SetRole($id: ID!, $userId: ID!, $role: GroupRole!) { groupRoleSet(input: {groupId: $id, userId: $userId, role: $role}) { member { role } } }`;
export const GROUP_LEAVE = `mutation Leave($id: ID!) { groupMemberLeave(input: {groupId: $id}) { ok } }`;

export const MESSAGE_SEARCH = `query Search($q: String!, $cursor: String) {
  messageHistorySearch(input: {query: $q, limit: 30, cursor: $cursor}) { messages { ...M } nextCursor }
}
${MESSAGE}`;

// Files (docs/FILES.md): ask for an upload (the bytes go over tus, see files.js), a
// signed link to show or download a file (files.js asks for many at once, by alias).
export const FILE_UPLOAD_TOKEN = `mutation UploadToken($input: FileRequestUploadTokenInput!) {
  fileRequestUploadToken(input: $input) { fileId uploadUrl expiresAt }
}`;
export const FILE_URL = `query FileUrl($id: ID!) { fileGetUrl(input: {fileId: $id}) { url expiresAt } }`;

export const PROFILE_NAME = `mutation SetName($name: String!) {
  accountProfileUpdate(input: {displayName: $name}) { profile { displayName } }
}`;
export const PROFILE_AVATAR = `mutation SetAvatar($fileId: String!) {
  accountProfileUpdate(input: {avatarFileId: $fileId}) { profile { avatarFileId } }
}`;
export const GROUP_AVATAR = `mutation SetGroupAvatar($id: ID!, $fileId: String!) {
  groupSettingsUpdate(input: {groupId: $id, avatarFileId: $fileId}) { group { ...G } }
}
${GROUP}`;

export const STICKER_PACK = `fragment SP on StickerPackage { id name description coverFileId inCollection stickers { id fileId emoji } }`;
export const STICKER_COLLECTION = `query MyStickers { stickerCollectionList { packages { ...SP } } }
${STICKER_PACK}`;
export const STICKER_PACKS = `query StickerPacks($cursor: String) {
  stickerPackageList(input: {cursor: $cursor, limit: 50}) { packages { ...SP } nextCursor }
}
${STICKER_PACK}`;
export const STICKER_ADD = `mutation AddStickers($id: ID!) { stickerCollectionAdd(input: {packageId: $id}) { package { ...SP } } }
${STICKER_PACK}`;
export const STICKER_REMOVE = `mutation RemoveStickers($id: ID!) { stickerCollectionRemove(input: {packageId: $id}) { ok } }`;
