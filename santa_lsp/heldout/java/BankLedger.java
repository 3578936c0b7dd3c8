import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

public class BankLedger {

    public enum EntryType { DEPOSIT, WITHDRAWAL, TRANSFER_IN, TRANSFER_OUT, FEE }

    public static class InsufficientFundsException extends RuntimeException {
        public InsufficientFundsException(String accountId, BigDecimal requested) {
            super("Account " + accountId + " cannot cover " + requested);
        }
    }

    public static class Entry {
        private final LocalDate date;
        private final EntryType type;
        private final BigDecimal amount;
        private final String memo;

        public Entry(LocalDate date, EntryType type, BigDecimal amount, String memo) {
            this.date = date;
            this.type = type;
            this.amount = amount;
            this.memo = memo;
        }

        public BigDecimal signedAmount() {
            switch (type) {
                case DEPOSIT:
                case TRANSFER_IN:
                    return amount;
                default:
                    return amount.negate();
            }
        }

        @Override
        public String toString() {
            return String.format("%s %-12s %10s  %s", date, type, signedAmount(), memo);
        }
    }

    public static class Account {
        private final String id;
        private final String owner;
        private final BigDecimal overdraftLimit;
        private final List<Entry> entries = new ArrayList<>();

        public Account(String id, String owner, BigDecimal overdraftLimit) {
            this.id = id;
            this.owner = owner;
            this.overdraftLimit = overdraftLimit;
        }

        public BigDecimal balance() {
            BigDecimal total = BigDecimal.ZERO;
            for (Entry entry : entries) {
                total = total.add(entry.signedAmount());
            }
            return total;
        }

        public BigDecimal availableFunds() {
            return balance().add(overdraftLimit);
        }

        public List<Entry> history() {
            return Collections.unmodifiableList(entries);
        }

        public String getOwner() {
            return owner;
        }
    }

    private final Map<String, Account> accounts = new HashMap<>();
    private final BigDecimal withdrawalFee;

    public BankLedger(BigDecimal withdrawalFee) {
        this.withdrawalFee = withdrawalFee;
    }

    public Account open(String id, String owner, BigDecimal overdraftLimit) {
        if (accounts.containsKey(id)) {
            throw new IllegalArgumentException("Account already exists: " + id);
        }
        Account account = new Account(id, owner, overdraftLimit);
        accounts.put(id, account);
        return account;
    }

    public Optional<Account> find(String id) {
        return Optional.ofNullable(accounts.get(id));
    }

    private Account require(String id) {
        return find(id).orElseThrow(() -> new IllegalArgumentException("No account " + id));
    }

    private static BigDecimal normalize(BigDecimal amount) {
        if (amount.signum() <= 0) {
            throw new IllegalArgumentException("Amount must be positive: " + amount);
        }
        return amount.setScale(2, RoundingMode.HALF_EVEN);
    }

    public void deposit(String id, BigDecimal amount, LocalDate date) {
        Account account = require(id);
        account.entries.add(new Entry(date, EntryType.DEPOSIT, normalize(amount), "deposit"));
    }

    public void withdraw(String id, BigDecimal amount, LocalDate date) {
        Account account = require(id);
        BigDecimal value = normalize(amount);
        BigDecimal needed = value.add(withdrawalFee);
        if (account.availableFunds().compareTo(needed) < 0) {
            throw new InsufficientFundsException(id, needed);
        }
        account.entries.add(new Entry(date, EntryType.WITHDRAWAL, value, "cash withdrawal"));
        if (withdrawalFee.signum() > 0) {
            account.entries.add(new Entry(date, EntryType.FEE, withdrawalFee, "withdrawal fee"));
        }
    }

    public void transfer(String fromId, String toId, BigDecimal amount, LocalDate date) {
        Account from = require(fromId);
        Account to = require(toId);
        BigDecimal value = normalize(amount);
        if (from.availableFunds().compareTo(value) < 0) {
            throw new InsufficientFundsException(fromId, value);
        }
        from.entries.add(new Entry(date, EntryType.TRANSFER_OUT, value, "to " + toId));
        to.entries.add(new Entry(date, EntryType.TRANSFER_IN, value, "from " + fromId));
    }

    public BigDecimal totalDeposits() {
        BigDecimal total = BigDecimal.ZERO;
        for (Account account : accounts.values()) {
            total = total.add(account.balance());
        }
        return total;
    }

    public String statement(String id, LocalDate from, LocalDate to) {
        Account account = require(id);
        StringBuilder sb = new StringBuilder();
        sb.append("Statement for ").append(account.getOwner());
        sb.append(" (").append(id).append(")\n");
        for (Entry entry : account.history()) {
            if (!entry.date.isBefore(from) && !entry.date.isAfter(to)) {
                sb.append("  ").append(entry).append('\n');
            }
        }
        sb.append("Closing balance: ").append(account.balance()).append('\n');
        return sb.toString();
    }
}
