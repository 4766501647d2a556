// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Tessera settlement escrow
/// @notice Clients deposit, nodes stake. The registry (the owner) posts each settlement window's
/// payouts with the debits that fund them, each from one client's own balance (reserved at once);
/// the payouts become claimable only after a challenge window in which neither the verifier (the
/// challenger) nor the owner objected, and a challenge gives the debits back. Proven fraud slashes a
/// fraction of a node's stake to the owner. Native currency only; every payment is pulled by its
/// recipient.
contract TesseraEscrow {
    enum Status { None, Posted, Challenged, Finalized }

    struct Settlement {
        Status status;
        uint64 postedAt;
        uint64 challengeEndsAt;
        uint256 total;
        address[] nodes;
        uint256[] amounts;
        address[] clients;
        uint256[] debits;
    }

    struct Stake {
        uint256 amount;
        /// 0 while the node is not unstaking.
        uint64 unstakingUntil;
    }

    uint256 private constant BPS = 10_000;

    /// The registry: posts, finalizes and slashes, and receives slashed stake.
    address public immutable owner;
    uint64 public immutable challengeWindow;
    uint64 public immutable unstakeCooldown;
    /// The verifier allowed to challenge settlements.
    address public challenger;

    mapping(address => uint256) public deposited;
    /// What each client may still be debited: deposits less the debits of its posted (reserved)
    /// and finalized (spent) settlements.
    mapping(address => uint256) public balance;
    mapping(address => Stake) public stakes;
    mapping(address => uint256) public claimable;
    mapping(bytes32 => bool) public evidenceUsed;
    mapping(bytes32 => Settlement) private settlements;

    event Deposited(address indexed client, uint256 amount);
    event Staked(address indexed node, uint256 amount, uint256 total);
    event UnstakeRequested(address indexed node, uint64 until);
    event StakeWithdrawn(address indexed node, uint256 amount);
    event SettlementPosted(bytes32 indexed hash, uint256 total, uint64 challengeEndsAt);
    event SettlementChallenged(bytes32 indexed hash, address indexed challenger, string reason);
    event SettlementFinalized(bytes32 indexed hash, uint256 total);
    event Claimed(address indexed party, uint256 amount);
    event Slashed(address indexed node, uint256 amount, uint16 fractionBps, bytes32 indexed evidenceHash);
    event ChallengerChanged(address indexed challenger);

    error NotOwner(address caller);
    error NotChallenger(address caller);
    error ZeroAmount();
    error ZeroAddress();
    error NoStake(address node);
    error AlreadyUnstaking(address node);
    error NotUnstaking(address node);
    error CooldownActive(address node, uint64 until);
    error EmptySettlement(bytes32 hash);
    error LengthMismatch(uint256 nodes, uint256 amounts);
    error SettlementExists(bytes32 hash);
    error UnknownSettlement(bytes32 hash);
    error AlreadyChallenged(bytes32 hash);
    error AlreadyFinalized(bytes32 hash);
    error ChallengeWindowOpen(bytes32 hash, uint64 endsAt);
    error ChallengeWindowClosed(bytes32 hash, uint64 endedAt);
    error InsufficientDeposits(address client, uint256 needed, uint256 balance);
    error UnbalancedSettlement(bytes32 hash, uint256 payouts, uint256 debits);
    error InsufficientFunds(address party, uint256 needed, uint256 held);
    error NothingToClaim(address party);
    error InvalidFraction(uint16 fractionBps);
    error EvidenceAlreadyUsed(bytes32 evidenceHash);
    error TransferFailed(address to, uint256 amount);

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    constructor(uint64 challengeWindow_, uint64 unstakeCooldown_, address challenger_) {
        if (challenger_ == address(0)) revert ZeroAddress();
        owner = msg.sender;
        challengeWindow = challengeWindow_;
        unstakeCooldown = unstakeCooldown_;
        challenger = challenger_;
        emit ChallengerChanged(challenger_);
    }

    function setChallenger(address challenger_) external onlyOwner {
        if (challenger_ == address(0)) revert ZeroAddress();
        challenger = challenger_;
        emit ChallengerChanged(challenger_);
    }

    // --- clients ---

    function deposit() external payable {
        if (msg.value == 0) revert ZeroAmount();
        deposited[msg.sender] += msg.value;
        balance[msg.sender] += msg.value;
        emit Deposited(msg.sender, msg.value);
    }

    // --- stake ---

    function stake() external payable {
        if (msg.value == 0) revert ZeroAmount();
        Stake storage s = stakes[msg.sender];
        // New stake would otherwise leave with the old one after a cooldown it never served.
        if (s.unstakingUntil != 0) revert AlreadyUnstaking(msg.sender);
        s.amount += msg.value;
        emit Staked(msg.sender, msg.value, s.amount);
    }

    /// Bonds `amount` of the caller's claimable earnings as stake, without a round trip out.
    function stakeFromEarnings(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        uint256 held = claimable[msg.sender];
        if (held < amount) revert InsufficientFunds(msg.sender, amount, held);
        Stake storage s = stakes[msg.sender];
        if (s.unstakingUntil != 0) revert AlreadyUnstaking(msg.sender);
        claimable[msg.sender] = held - amount;
        s.amount += amount;
        emit Staked(msg.sender, amount, s.amount);
    }

    function requestUnstake() external {
        Stake storage s = stakes[msg.sender];
        if (s.amount == 0) revert NoStake(msg.sender);
        if (s.unstakingUntil != 0) revert AlreadyUnstaking(msg.sender);
        s.unstakingUntil = uint64(block.timestamp) + unstakeCooldown;
        emit UnstakeRequested(msg.sender, s.unstakingUntil);
    }

    function withdrawStake() external {
        Stake memory s = stakes[msg.sender];
        if (s.unstakingUntil == 0) revert NotUnstaking(msg.sender);
        if (block.timestamp < s.unstakingUntil) revert CooldownActive(msg.sender, s.unstakingUntil);
        delete stakes[msg.sender];
        _send(msg.sender, s.amount);
        emit StakeWithdrawn(msg.sender, s.amount);
    }

    /// Moves `fractionBps` / 10000 of the node's stake (unstaking or not) to the owner. Each piece
    /// of evidence slashes once.
    function slash(address node, uint16 fractionBps, bytes32 evidenceHash) external onlyOwner {
        if (fractionBps == 0 || fractionBps > BPS) revert InvalidFraction(fractionBps);
        if (evidenceUsed[evidenceHash]) revert EvidenceAlreadyUsed(evidenceHash);
        Stake storage s = stakes[node];
        if (s.amount == 0) revert NoStake(node);
        uint256 amount = (s.amount * fractionBps) / BPS;
        evidenceUsed[evidenceHash] = true;
        s.amount -= amount;
        claimable[owner] += amount;
        emit Slashed(node, amount, fractionBps, evidenceHash);
    }

    // --- settlements ---

    function postSettlement(
        bytes32 hash,
        address[] calldata nodes,
        uint256[] calldata amounts,
        address[] calldata clients,
        uint256[] calldata debits
    ) external onlyOwner {
        if (nodes.length == 0) revert EmptySettlement(hash);
        if (nodes.length != amounts.length) revert LengthMismatch(nodes.length, amounts.length);
        if (clients.length != debits.length) revert LengthMismatch(clients.length, debits.length);
        Settlement storage s = settlements[hash];
        if (s.status != Status.None) revert SettlementExists(hash);
        uint256 total;
        for (uint256 i = 0; i < nodes.length; i++) {
            if (nodes[i] == address(0)) revert ZeroAddress();
            if (amounts[i] == 0) revert ZeroAmount();
            total += amounts[i];
        }
        uint256 debited;
        for (uint256 i = 0; i < clients.length; i++) {
            if (clients[i] == address(0)) revert ZeroAddress();
            if (debits[i] == 0) revert ZeroAmount();
            debited += debits[i];
        }
        if (debited != total) revert UnbalancedSettlement(hash, total, debited);
        // In order, so a client debited twice is checked against what its first debit left.
        for (uint256 i = 0; i < clients.length; i++) {
            uint256 held = balance[clients[i]];
            if (held < debits[i]) revert InsufficientDeposits(clients[i], debits[i], held);
            balance[clients[i]] = held - debits[i];
        }
        s.status = Status.Posted;
        s.postedAt = uint64(block.timestamp);
        s.challengeEndsAt = uint64(block.timestamp) + challengeWindow;
        s.total = total;
        s.nodes = nodes;
        s.amounts = amounts;
        s.clients = clients;
        s.debits = debits;
        emit SettlementPosted(hash, total, s.challengeEndsAt);
    }

    /// The verifier challenges what it audited; the owner, a fraud proof it confirmed itself.
    function challenge(bytes32 hash, string calldata reason) external {
        if (msg.sender != challenger && msg.sender != owner) revert NotChallenger(msg.sender);
        Settlement storage s = _pending(hash);
        if (block.timestamp >= s.challengeEndsAt) revert ChallengeWindowClosed(hash, s.challengeEndsAt);
        s.status = Status.Challenged;
        for (uint256 i = 0; i < s.clients.length; i++) {
            balance[s.clients[i]] += s.debits[i];
        }
        emit SettlementChallenged(hash, msg.sender, reason);
    }

    function finalizeSettlement(bytes32 hash) external onlyOwner {
        Settlement storage s = _pending(hash);
        if (block.timestamp < s.challengeEndsAt) revert ChallengeWindowOpen(hash, s.challengeEndsAt);
        // The debits were reserved at posting: the funds are already set aside.
        s.status = Status.Finalized;
        for (uint256 i = 0; i < s.nodes.length; i++) {
            claimable[s.nodes[i]] += s.amounts[i];
        }
        emit SettlementFinalized(hash, s.total);
    }

    function settlement(bytes32 hash)
        external
        view
        returns (Status status, uint64 postedAt, uint64 challengeEndsAt, uint256 total, address[] memory nodes, uint256[] memory amounts)
    {
        Settlement storage s = settlements[hash];
        return (s.status, s.postedAt, s.challengeEndsAt, s.total, s.nodes, s.amounts);
    }

    function settlementDebits(bytes32 hash) external view returns (address[] memory clients, uint256[] memory debits) {
        Settlement storage s = settlements[hash];
        return (s.clients, s.debits);
    }

    // --- payouts ---

    function claim() external {
        uint256 amount = claimable[msg.sender];
        if (amount == 0) revert NothingToClaim(msg.sender);
        claimable[msg.sender] = 0;
        _send(msg.sender, amount);
        emit Claimed(msg.sender, amount);
    }

    function _pending(bytes32 hash) private view returns (Settlement storage s) {
        s = settlements[hash];
        if (s.status == Status.None) revert UnknownSettlement(hash);
        if (s.status == Status.Challenged) revert AlreadyChallenged(hash);
        if (s.status == Status.Finalized) revert AlreadyFinalized(hash);
    }

    function _send(address to, uint256 amount) private {
        (bool ok, ) = to.call{value: amount}("");
        if (!ok) revert TransferFailed(to, amount);
    }
}
